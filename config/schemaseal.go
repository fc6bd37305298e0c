package config

import (
	"fmt"
	"slices"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/jsondiff"
	"github.com/cybercorp/hotreload/secret"
)

// seal returns the patched source document doc with every secret it holds
// in plaintext encrypted by Options.Encrypt, so that neither the file
// written back nor history ever holds it (a value the patch leaves as it
// was is left alone). A value is secret when the schema or
// Options.SecretPaths marks it, or when the live source had it encrypted. Without Encrypt, or
// for a secret that is not a string, the patch is refused.
func (t *Target[T]) seal(live *state[T], doc any) (any, error) {
	var base any
	if live != nil {
		base = live.source.Value
	}
	paths := encryptedPaths(base, "")
	if t.opts.Schema != nil {
		paths = append(paths, t.opts.Schema.SecretPaths(doc)...)
	}
	if t.opts.SecretPaths != nil {
		paths = append(paths, t.opts.SecretPaths(doc)...)
	}
	slices.Sort(paths)
	for _, p := range slices.Compact(paths) {
		v := jsondiff.At(doc, p)
		s, isString := v.(string)
		if v == nil || isString && secret.IsEncrypted(s) || jsondiff.Equal(v, jsondiff.At(base, p)) {
			continue
		}
		if !isString {
			return nil, patchRefused(p, "a secret must be a string")
		}
		if t.opts.Encrypt == nil {
			return nil, patchRefused(p, "a secret cannot be set in plaintext: no age identity is configured to encrypt it; set it encrypted (hotreload secret encrypt)")
		}
		enc, err := t.opts.Encrypt([]byte(s))
		if err != nil {
			return nil, patchRefused(p, fmt.Sprintf("encrypting the secret: %v", err))
		}
		doc = setAt(doc, jsondiff.Split(p), enc)
	}
	return doc, nil
}

// encrypted returns the state's final document with the values that were
// encrypted in its source put back in their encrypted form.
func (s *state[T]) encrypted() any {
	doc := s.final.Value
	for _, p := range encryptedPaths(s.source.Value, "") {
		doc = setAt(doc, jsondiff.Split(p), jsondiff.At(s.source.Value, p))
	}
	return doc
}

func patchRefused(ptr, msg string) error {
	return &hotreload.Error{Code: hotreload.CodeInvalid, Message: "refusing the patch",
		Details: []hotreload.FieldError{{File: "patch", Path: ptr, Message: msg}}}
}
