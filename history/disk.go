package history

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cybercorp/hotreload"
)

// recordFormat is the version of the record file envelope.
const recordFormat = 1

// tempPrefix starts the name of every file being written.
const tempPrefix = ".tmp-"

// recordFile is the envelope of one record on disk.
type recordFile struct {
	Format int             `json:"format"`
	SHA256 string          `json:"sha256"`
	Record json.RawMessage `json:"record"`
}

// encodeRecord renders rec as the contents of a record file.
func encodeRecord(rec hotreload.Record) ([]byte, error) {
	body, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encoding record of version %d: %w", rec.Version, err)
	}
	sum := sha256.Sum256(body)
	out, err := json.Marshal(recordFile{Format: recordFormat, SHA256: hex.EncodeToString(sum[:]), Record: body})
	if err != nil {
		return nil, fmt.Errorf("encoding record of version %d: %w", rec.Version, err)
	}
	return append(out, '\n'), nil
}

// decodeRecord parses the contents of a record file, checking its format and
// checksum. The error says precisely what is wrong.
func decodeRecord(data []byte) (hotreload.Record, error) {
	var rec hotreload.Record
	var f recordFile
	if err := json.Unmarshal(data, &f); err != nil {
		return rec, fmt.Errorf("not a record file: %w", err)
	}
	if f.Format != recordFormat {
		return rec, fmt.Errorf("unknown record format %d (want %d)", f.Format, recordFormat)
	}
	if len(f.Record) == 0 {
		return rec, fmt.Errorf("record is missing")
	}
	sum := sha256.Sum256(f.Record)
	if got := hex.EncodeToString(sum[:]); got != f.SHA256 {
		return rec, fmt.Errorf("checksum mismatch: file says sha256 %q, record hashes to %s", f.SHA256, got)
	}
	if err := json.Unmarshal(f.Record, &rec); err != nil {
		return rec, fmt.Errorf("decoding record: %w", err)
	}
	if err := checkResult(rec.Result); err != nil {
		return rec, err
	}
	if err := checkDigests(rec.Targets); err != nil {
		return rec, err
	}
	return rec, nil
}

// checkDigests rejects a target digest that is neither empty nor a
// lower-case hex SHA-256: digests name files in the objects directory.
func checkDigests(targets []hotreload.TargetState) error {
	for _, t := range targets {
		if t.Digest != "" && !hotreload.IsDigest(t.Digest) {
			return fmt.Errorf("target %q: digest %q is not a lower-case hex SHA-256", t.Target, t.Digest)
		}
	}
	return nil
}

// checkResult rejects a result that is not one of hotreload's.
func checkResult(r hotreload.Result) error {
	switch r {
	case hotreload.Committed, hotreload.Unchanged, hotreload.Rejected, hotreload.RolledBack, hotreload.Superseded, hotreload.Pending:
		return nil
	}
	return fmt.Errorf("unknown result %q", r)
}

// recordName is the file name of the record numbered seq.
func recordName(seq uint64) string { return fmt.Sprintf("%020d.json", seq) }

// parseRecordName returns the seq of a record file name.
func parseRecordName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, ".json")
	if !ok || len(digits) != 20 {
		return 0, false
	}
	seq, err := strconv.ParseUint(digits, 10, 64)
	return seq, err == nil
}

// writeFile durably replaces dir/name with data: it writes a temporary file
// in dir, fsyncs it and renames it over name. The caller fsyncs dir.
func writeFile(dir, name string, data []byte) error {
	tmp, err := stageFile(dir, data)
	if err == nil {
		err = publishFile(tmp, dir, name)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Join(dir, name), err)
	}
	return nil
}

// stageFile writes data to a new temporary file in dir and fsyncs it; it
// returns the file's path, or an error and no file.
func stageFile(dir string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// publishFile renames the staged file tmp over dir/name, or removes it if
// that fails. The caller fsyncs dir.
func publishFile(tmp, dir, name string) error {
	err := os.Rename(tmp, filepath.Join(dir, name))
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// syncDir fsyncs a directory so that the renames and removals in it are
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}
