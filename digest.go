package hotreload

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Digest returns the hex SHA-256 of b: the digest of a snapshot in
// history, and of every content a target or store names by its hash.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// IsDigest reports whether s is a Digest: 64 lower-case hex digits.
func IsDigest(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}

// FirstLine returns s up to its first newline: a message for a one-line
// log or reason.
func FirstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
