package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cybercorp/hotreload"
)

func TestAddAuthenticateRevoke(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.json")
	op, err := Add(path, "ci", Operator)
	if err != nil {
		t.Fatal(err)
	}
	viewer, err := Add(path, "", Viewer)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(op, tokenPrefix) || len(op) < 40 {
		t.Fatalf("token %q is not a prefixed 256-bit secret", op)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), op) || strings.Contains(string(data), viewer) {
		t.Fatal("the auth file holds a token in clear")
	}
	if !strings.Contains(string(data), Hash(op)) {
		t.Fatal("the auth file does not hold the token's hash")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("auth file mode = %v, want 0600", fi.Mode().Perm())
	}

	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.Authenticate(op)
	if err != nil || id != (Identity{Name: "ci", Role: Operator}) {
		t.Fatalf("Authenticate(operator) = %v, %v", id, err)
	}
	if id, err := s.Authenticate(viewer); err != nil || id.Role != Viewer || !strings.HasPrefix(id.Name, "viewer-") {
		t.Fatalf("Authenticate(viewer) = %v, %v", id, err)
	}
	for _, bad := range []string{"", "hrt_nope", op + "x", op[:len(op)-1]} {
		if _, err := s.Authenticate(bad); hotreload.ErrorCode(err) != hotreload.CodeUnauthorized {
			t.Errorf("Authenticate(%q) = %v, want unauthorized", bad, err)
		}
	}

	if _, err := Add(path, "ci", Admin); hotreload.ErrorCode(err) != hotreload.CodeConflict {
		t.Fatalf("adding a duplicate name = %v, want conflict", err)
	}
	if err := Revoke(path, "ci"); err != nil {
		t.Fatal(err)
	}
	if err := Revoke(path, "ci"); hotreload.ErrorCode(err) != hotreload.CodeNotFound {
		t.Fatalf("revoking twice = %v, want not found", err)
	}
	// Still valid until the daemon reloads the file.
	if _, err := s.Authenticate(op); err != nil {
		t.Fatalf("before Reload: %v", err)
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(op); err == nil {
		t.Fatal("a revoked token still authenticates after Reload")
	}
	if s.Len() != 1 {
		t.Fatalf("Len = %d, want 1", s.Len())
	}
}

func TestReloadKeepsTokensOnBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.json")
	tok, err := Add(path, "a", Admin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(`{"tokens": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Reload of a broken file = %v, want an error naming it", err)
	}
	if _, err := s.Authenticate(tok); err != nil {
		t.Fatalf("the last good tokens were dropped: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	h := Hash("x")
	for name, tc := range map[string]struct{ in, want string }{
		"Syntax":       {`{`, "decoding"},
		"UnknownField": {`{"tokens": [], "extra": 1}`, "unknown field"},
		"BadRole":      {`{"tokens": [{"name": "a", "role": "root", "sha256": "` + h + `"}]}`, "unknown role"},
		"NoRole":       {`{"tokens": [{"name": "a", "sha256": "` + h + `"}]}`, "missing role"},
		"BadHash":      {`{"tokens": [{"name": "a", "role": "admin", "sha256": "abc"}]}`, "64 hex"},
		"BadName":      {`{"tokens": [{"name": "a b", "role": "admin", "sha256": "` + h + `"}]}`, "invalid name"},
		"Duplicate":    {`{"tokens": [{"name": "a", "role": "admin", "sha256": "` + h + `"}, {"name": "a", "role": "viewer", "sha256": "` + h + `"}]}`, "duplicate"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"tokens": [{"name": "a", "role": "admin", "sha256": "` + Hash("x") + `"}]}`))
	f.Add([]byte(`{"tokens": null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		for _, tok := range file.Tokens {
			if tok.Role <= Public || tok.Role > Admin {
				t.Fatalf("Parse accepted role %v", tok.Role)
			}
		}
	})
}

// BenchmarkAuthenticate measures a token check against 100 stored hashes
// (every hash is compared, in constant time).
func BenchmarkAuthenticate(b *testing.B) {
	path := filepath.Join(b.TempDir(), "auth.json")
	var tok string
	for i := range 100 {
		t, err := Add(path, "t"+strings.Repeat("x", i%5)+string(rune('a'+i%26))+string(rune('a'+i/26)), Viewer)
		if err != nil {
			b.Fatal(err)
		}
		tok = t
	}
	s, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Authenticate(tok); err != nil {
			b.Fatal(err)
		}
	}
}
