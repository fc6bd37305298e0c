// Package auth holds the admin API's bearer tokens and roles. Tokens live
// in an auth file as SHA-256 hashes of high-entropy random secrets, each
// with a name and a role; the secret itself is shown once when created and
// never stored.
//
// Concurrency: a Store is safe for concurrent use. Authenticate reads an
// immutable table through an atomic pointer, so it never waits for Reload;
// Reload parses the whole file before swapping it in and keeps the previous
// table when the file is invalid. File edits (Add, Revoke) replace the file
// atomically; concurrent editors of one file must be serialised by the
// caller (the CLI edits it while the daemon only reads).
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/atomicfile"
	"github.com/cybercorp/hotreload/internal/inputfile"
)

// Role is what a token may do (hotreload.Role). Each role includes the
// ones below it.
type Role = hotreload.Role

// The roles, weakest first. Public is not a token role: it marks endpoints
// that need no token at all.
const (
	Public   = hotreload.Public
	Viewer   = hotreload.Viewer
	Operator = hotreload.Operator
	Admin    = hotreload.Admin
)

// ParseRole parses a token role: viewer, operator or admin.
func ParseRole(s string) (Role, error) { return hotreload.ParseRole(s) }

// Identity is who made a request.
type Identity struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
}

// Anonymous is the identity of requests to an open (development) server.
var Anonymous = Identity{Name: "anonymous", Role: Admin}

// Token is one entry of the auth file.
type Token struct {
	Name    string    `json:"name"`
	Role    Role      `json:"role"`
	SHA256  string    `json:"sha256"`
	Created time.Time `json:"created"`
}

// File is the auth file's content.
type File struct {
	Tokens []Token `json:"tokens"`
}

// tokenPrefix marks hotreload tokens so that secret scanners recognise them.
const tokenPrefix = "hrt_"

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// Hash returns the hex SHA-256 of a token, the form the auth file keeps.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Parse decodes and checks an auth file.
func Parse(data []byte) (File, error) {
	var f File
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return File{}, hotreload.Errorf(hotreload.CodeInvalid, "decoding the auth file: %w", err)
	}
	seen := map[string]bool{}
	for i, t := range f.Tokens {
		switch {
		case !namePattern.MatchString(t.Name):
			return File{}, hotreload.Errorf(hotreload.CodeInvalid, "token %d: invalid name %q", i, t.Name)
		case seen[t.Name]:
			return File{}, hotreload.Errorf(hotreload.CodeInvalid, "token %d: duplicate name %q", i, t.Name)
		case t.Role <= Public:
			return File{}, hotreload.Errorf(hotreload.CodeInvalid, "token %q: missing role", t.Name)
		}
		if b, err := hex.DecodeString(t.SHA256); err != nil || len(b) != sha256.Size {
			return File{}, hotreload.Errorf(hotreload.CodeInvalid, "token %q: sha256 is not 64 hex digits", t.Name)
		}
		seen[t.Name] = true
	}
	return f, nil
}

// maxFileBytes bounds the auth file: about 5,000 tokens.
const maxFileBytes = 1 << 20

// ReadFile reads and checks an auth file; a missing file is an empty one.
func ReadFile(path string) (File, error) { return readFile(path, false) }

// readFile is ReadFile; with private set it refuses a file others could
// change, checked on the file it reads.
func readFile(path string, private bool) (File, error) {
	data, err := inputfile.Read(path, inputfile.Options{MaxBytes: maxFileBytes, AllowOutsideLinks: true, Private: private})
	if errors.Is(err, os.ErrNotExist) {
		return File{}, nil
	}
	if err != nil {
		return File{}, fmt.Errorf("reading the auth file: %w", err)
	}
	f, err := Parse(data)
	if err != nil {
		return File{}, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// WriteFile replaces the auth file atomically with mode 0600.
func WriteFile(path string, f File) error {
	if f.Tokens == nil {
		f.Tokens = []Token{}
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(data, '\n'), 0o600)
}

// Add creates a token with the given name and role in the auth file and
// returns its secret, which is not stored anywhere. An empty name gets a
// generated one.
func Add(path, name string, role Role) (token string, err error) {
	if role <= Public || role > Admin {
		return "", hotreload.Errorf(hotreload.CodeInvalid, "invalid role %v", role)
	}
	f, err := ReadFile(path)
	if err != nil {
		return "", err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("generating a token: %w", err)
	}
	token = tokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	if name == "" {
		name = fmt.Sprintf("%s-%s", role, hex.EncodeToString(raw[:3]))
	}
	if !namePattern.MatchString(name) {
		return "", hotreload.Errorf(hotreload.CodeInvalid, "invalid token name %q (letters, digits, . _ @ -; at most 64)", name)
	}
	if slices.ContainsFunc(f.Tokens, func(t Token) bool { return t.Name == name }) {
		return "", hotreload.Errorf(hotreload.CodeConflict, "a token named %q exists already; revoke it first", name)
	}
	f.Tokens = append(f.Tokens, Token{Name: name, Role: role, SHA256: Hash(token), Created: time.Now().UTC().Truncate(time.Second)})
	if err := WriteFile(path, f); err != nil {
		return "", err
	}
	return token, nil
}

// Revoke removes the named token from the auth file.
func Revoke(path, name string) error {
	f, err := ReadFile(path)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(f.Tokens, func(t Token) bool { return t.Name == name })
	if i < 0 {
		return hotreload.Errorf(hotreload.CodeNotFound, "no token named %q in %s", name, path)
	}
	f.Tokens = slices.Delete(f.Tokens, i, i+1)
	return WriteFile(path, f)
}

// entry is one token in the in-memory table.
type entry struct {
	id   Identity
	hash [sha256.Size]byte
}

// Store authenticates bearer tokens against an auth file. Create it with
// Open; call Reload when the file changes.
type Store struct {
	path    string
	private bool
	table   atomic.Pointer[[]entry]
}

// An Option configures a Store.
type Option func(*Store)

// Private makes Open and Reload refuse an auth file that others could
// change, as sshd's StrictModes does (see inputfile.CheckPrivate): the
// error is an *inputfile.NotPrivateError naming the chmod to run.
func Private() Option { return func(s *Store) { s.private = true } }

// Open reads the auth file at path into a new Store. A missing file gives
// a Store with no tokens (every token is refused).
func Open(path string, opts ...Option) (*Store, error) {
	s := &Store{path: path}
	for _, o := range opts {
		o(s)
	}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Path returns the auth file's path.
func (s *Store) Path() string { return s.path }

// Reload re-reads the auth file. When it is invalid the Store keeps the
// tokens it had and returns the error.
func (s *Store) Reload() error {
	f, err := readFile(s.path, s.private)
	if err != nil {
		return err
	}
	table := make([]entry, 0, len(f.Tokens))
	for _, t := range f.Tokens {
		var e entry
		e.id = Identity{Name: t.Name, Role: t.Role}
		hex.Decode(e.hash[:], []byte(t.SHA256)) // checked by Parse
		table = append(table, e)
	}
	s.table.Store(&table)
	return nil
}

// Len returns how many tokens the Store holds.
func (s *Store) Len() int { return len(*s.table.Load()) }

// Authenticate returns the identity of a token, or a CodeUnauthorized
// error. It compares in constant time against every stored hash, so timing
// reveals neither which token matched nor how much of it.
func (s *Store) Authenticate(token string) (Identity, error) {
	if token == "" {
		return Identity{}, hotreload.Errorf(hotreload.CodeUnauthorized, "a bearer token is required")
	}
	sum := sha256.Sum256([]byte(token))
	var found Identity
	match := 0
	for _, e := range *s.table.Load() {
		eq := subtle.ConstantTimeCompare(sum[:], e.hash[:])
		if eq == 1 {
			found = e.id
		}
		match |= eq
	}
	if match == 0 {
		return Identity{}, hotreload.Errorf(hotreload.CodeUnauthorized, "the token is not valid (unknown or revoked)")
	}
	return found, nil
}
