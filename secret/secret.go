package secret

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"filippo.io/age"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/atomicfile"
	"github.com/cybercorp/hotreload/internal/inputfile"
)

// Prefix and Suffix enclose an encrypted value.
const (
	Prefix = "ENC[age:"
	Suffix = "]"
)

// IdentityEnv names the environment variable that may hold the identity
// file's path (or, starting with AGE-SECRET-KEY-, an identity itself).
const IdentityEnv = "HOTRELOAD_AGE_IDENTITY"

// encrypted matches one encrypted value anywhere in a file's text.
var encrypted = regexp.MustCompile(`ENC\[age:([A-Za-z0-9+/=]+)\]`)

// IsEncrypted reports whether s is exactly one encrypted value.
func IsEncrypted(s string) bool {
	m := encrypted.FindStringIndex(s)
	return m != nil && m[0] == 0 && m[1] == len(s)
}

// Encrypt encrypts plaintext to the recipients and returns the
// ENC[age:...] form.
func Encrypt(plaintext []byte, recipients ...age.Recipient) (string, error) {
	if len(recipients) == 0 {
		return "", hotreload.Errorf(hotreload.CodeInvalid, "encrypting: no recipient given")
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, recipients...)
	if err != nil {
		return "", fmt.Errorf("encrypting: %w", err)
	}
	if _, err := w.Write(plaintext); err != nil {
		return "", fmt.Errorf("encrypting: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("encrypting: %w", err)
	}
	return Prefix + base64.StdEncoding.EncodeToString(buf.Bytes()) + Suffix, nil
}

// Decrypt decrypts one ENC[age:...] value with the identities.
func Decrypt(value string, identities ...age.Identity) ([]byte, error) {
	if !IsEncrypted(value) {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "not an ENC[age:...] value")
	}
	raw, err := base64.StdEncoding.DecodeString(value[len(Prefix) : len(value)-len(Suffix)])
	if err != nil {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "the encrypted value is not valid base64: %w", err)
	}
	r, err := age.Decrypt(bytes.NewReader(raw), identities...)
	if err != nil {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "decrypting: %w", err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "decrypting: %w", err)
	}
	return out, nil
}

// ParseRecipients parses age recipients (age1..., or the post-quantum
// age1pq1... form).
func ParseRecipients(specs []string) ([]age.Recipient, error) {
	if len(specs) == 0 {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "no recipient given")
	}
	rs, err := age.ParseRecipients(strings.NewReader(strings.Join(specs, "\n")))
	if err != nil {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "parsing recipients: %w", err)
	}
	return rs, nil
}

// LoadIdentities reads age identities from a file (one per line, # for
// comments), or from the value of $HOTRELOAD_AGE_IDENTITY when path is
// empty. It returns nil and no error when neither is set.
func LoadIdentities(path string) ([]age.Identity, error) {
	var text string
	switch {
	case path != "":
		data, err := inputfile.Read(path, inputfile.Options{MaxBytes: 1 << 20, AllowOutsideLinks: true})
		if err != nil {
			return nil, fmt.Errorf("reading the age identity: %w", err)
		}
		text = string(data)
	case strings.HasPrefix(os.Getenv(IdentityEnv), "AGE-SECRET-KEY-"):
		text, path = os.Getenv(IdentityEnv), "$"+IdentityEnv
	case os.Getenv(IdentityEnv) != "":
		return LoadIdentities(os.Getenv(IdentityEnv))
	default:
		return nil, nil
	}
	ids, err := age.ParseIdentities(strings.NewReader(text))
	if err != nil {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "parsing the age identity %s: %w", path, err)
	}
	return ids, nil
}

// Keygen creates a new X25519 identity in a file that must not exist yet
// (mode 0600) and returns its recipient.
func Keygen(path string) (recipient string, err error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return "", fmt.Errorf("generating an identity: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("creating the identity file: %w", err)
	}
	content := fmt.Sprintf("# created by hotreload secret keygen\n# public key: %s\n%s\n", id.Recipient(), id)
	_, werr := f.WriteString(content)
	serr := f.Sync()
	if err := errors.Join(werr, serr, f.Close()); err != nil {
		os.Remove(path)
		return "", fmt.Errorf("writing the identity file %s: %w", path, err)
	}
	return id.Recipient().String(), nil
}

// Rotate re-encrypts every ENC[age:...] value of a config file to the new
// recipients. It decrypts each value with identities, encrypts it again,
// and before replacing the file checks that every new value decrypts, with
// identities or verify (the new recipients' identities, when known), to the
// same plaintext; the file is then replaced atomically with its mode kept.
// It returns how many values were re-encrypted. The file is not touched
// when any step fails.
func Rotate(path string, identities []age.Identity, recipients []age.Recipient, verify []age.Identity) (int, error) {
	data, err := inputfile.Read(path, inputfile.Options{AllowOutsideLinks: true})
	if err != nil {
		return 0, fmt.Errorf("rotating: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("rotating: %w", err)
	}
	var plain [][]byte
	var rerr error
	out := encrypted.ReplaceAllFunc(data, func(m []byte) []byte {
		if rerr != nil {
			return m
		}
		p, err := Decrypt(string(m), identities...)
		if err != nil {
			rerr = fmt.Errorf("value %d: %w", len(plain)+1, err)
			return m
		}
		v, err := Encrypt(p, recipients...)
		if err != nil {
			rerr = err
			return m
		}
		plain = append(plain, p)
		return []byte(v)
	})
	if rerr != nil {
		return 0, fmt.Errorf("rotating %s: %w", path, rerr)
	}
	all := append(append([]age.Identity{}, identities...), verify...)
	for i, m := range encrypted.FindAll(out, -1) {
		p, err := Decrypt(string(m), all...)
		if err != nil {
			return 0, hotreload.Errorf(hotreload.CodeInvalid,
				"rotating %s: value %d does not decrypt with the given identities after re-encryption (give the new identity with --verify-identity): %w", path, i+1, err)
		}
		if !bytes.Equal(p, plain[i]) {
			return 0, fmt.Errorf("rotating %s: value %d decrypts to something else after re-encryption", path, i+1)
		}
	}
	if err := atomicfile.Write(path, out, fi.Mode().Perm()); err != nil {
		return 0, fmt.Errorf("rotating: %w", err)
	}
	return len(plain), nil
}
