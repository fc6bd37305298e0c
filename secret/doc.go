// Package secret keeps configuration secrets secret: values encrypted with
// age (https://age-encryption.org) inside config files as ENC[age:BASE64],
// decrypted only in memory when a config is loaded, and redacted wherever
// the config leaves the process (API answers, logs, events, diffs, audit).
//
// A Decrypter holds the daemon's identities. Its Transform walks a decoded
// config document, decrypts every ENC[age:...] string and remembers both
// where it found one (a JSON Pointer) and the plaintext, so that Redact
// can replace those values in documents and change lists and Scrub can cut
// the plaintexts out of free text (log lines, error reasons). The config
// target snapshots its input before the transform, so history and diffs
// only ever see the encrypted form.
//
// Concurrency: a Decrypter is safe for concurrent use. Transform runs on
// the engine's goroutine; Redact, Scrub and Paths read an immutable set
// through an atomic pointer and never wait. The set only grows: a value
// once decrypted stays redacted for the life of the process, even after
// the config that held it is rolled back.
package secret
