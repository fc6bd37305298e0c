package history

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cybercorp/hotreload"
)

// The versions of the record envelope: recordFormat in a record file
// (<seq>.json, written before the records log; read, never written), and
// lineFormat in a line of a log segment, which carries its seq.
const (
	recordFormat = 1
	lineFormat   = 2
)

// tempPrefix starts the name of every file being written.
const tempPrefix = ".tmp-"

// recordFile is the envelope of one record on disk, and of one line of a
// log segment: a record, or the content of an object (Object its digest,
// Data the content). In lineFormat a record's checksum covers the seq too:
// "<seq>\n<record>"; an object's digest is its checksum.
type recordFile struct {
	Format int             `json:"format"`
	Seq    uint64          `json:"seq,omitempty"`
	SHA256 string          `json:"sha256,omitempty"`
	Record json.RawMessage `json:"record,omitempty"`
	Object string          `json:"object,omitempty"`
	Data   []byte          `json:"data,omitempty"`
}

// lineSum returns the checksum of a record body in format, numbered seq.
func lineSum(format int, seq uint64, body []byte) string {
	h := sha256.New()
	if format == lineFormat {
		h.Write(strconv.AppendUint(nil, seq, 10))
		h.Write([]byte{'\n'})
	}
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// encodeRecord renders rec, numbered seq, as one line of a log segment.
func encodeRecord(seq uint64, rec hotreload.Record) ([]byte, error) {
	body, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encoding record of version %d: %w", rec.Version, err)
	}
	return recordLine(seq, body), nil
}

// recordLine renders body, a record as json.Marshal encodes it, numbered
// seq, as one line of a log segment.
func recordLine(seq uint64, body []byte) []byte {
	out := make([]byte, 0, len(body)+128)
	out = fmt.Appendf(out, `{"format":%d,"seq":%d,"sha256":"%s","record":`, lineFormat, seq, lineSum(lineFormat, seq, body))
	out = append(out, body...)
	return append(out, "}\n"...)
}

// encodeObject renders the content with digest d as one line of a log
// segment: {"format":2,"object":"<d>","data":"<content in base64>"}.
func encodeObject(d string, content []byte) []byte {
	out := make([]byte, 0, 48+len(d)+base64.StdEncoding.EncodedLen(len(content)))
	out = fmt.Appendf(out, `{"format":%d,"object":%q,"data":"`, lineFormat, d)
	out = base64.StdEncoding.AppendEncode(out, content)
	return append(out, "\"}\n"...)
}

// segmentLine is one line of a log segment: a record numbered seq, or, when
// object is set, the content with that digest.
type segmentLine struct {
	seq     uint64
	rec     hotreload.Record
	object  string
	content []byte
}

// decodeLine parses a line of a log segment, checking its checksum (an
// object's content against its digest). The error says precisely what is
// wrong.
func decodeLine(data []byte) (segmentLine, error) {
	var f recordFile
	if err := json.Unmarshal(data, &f); err != nil {
		return segmentLine{}, fmt.Errorf("not a record: %w", err)
	}
	if f.Object == "" {
		seq, rec, err := f.decode(lineFormat)
		return segmentLine{seq: seq, rec: rec}, err
	}
	switch {
	case f.Format != lineFormat:
		return segmentLine{}, fmt.Errorf("unknown record format %d (want %d)", f.Format, lineFormat)
	case f.Seq != 0 || f.SHA256 != "" || f.Record != nil:
		return segmentLine{}, fmt.Errorf("object %q: a line holds an object or a record, not both", f.Object)
	case !hotreload.IsDigest(f.Object):
		return segmentLine{}, fmt.Errorf("object %q: not a lower-case hex SHA-256", f.Object)
	}
	if got := hotreload.Digest(f.Data); got != f.Object {
		return segmentLine{}, fmt.Errorf("object %s is corrupt: its content hashes to sha256 %s", f.Object, got)
	}
	return segmentLine{object: f.Object, content: f.Data}, nil
}

// decodeRecord parses a record envelope in format (a record file's, or a
// log line's), checking its checksum, and returns the record and, for a
// log line, its seq. The error says precisely what is wrong.
func decodeRecord(data []byte, format int) (uint64, hotreload.Record, error) {
	var f recordFile
	if err := json.Unmarshal(data, &f); err != nil {
		return 0, hotreload.Record{}, fmt.Errorf("not a record: %w", err)
	}
	return f.decode(format)
}

// decode checks the record envelope f in format and returns its seq and
// record.
func (f recordFile) decode(format int) (uint64, hotreload.Record, error) {
	var rec hotreload.Record
	if f.Format != format {
		return 0, rec, fmt.Errorf("unknown record format %d (want %d)", f.Format, format)
	}
	if len(f.Record) == 0 {
		return 0, rec, fmt.Errorf("record is missing")
	}
	if format == lineFormat && f.Seq == 0 {
		return 0, rec, fmt.Errorf("seq is missing")
	}
	if got := lineSum(format, f.Seq, f.Record); got != f.SHA256 {
		return 0, rec, fmt.Errorf("checksum mismatch: the envelope says sha256 %q, its content hashes to %s", f.SHA256, got)
	}
	if err := json.Unmarshal(f.Record, &rec); err != nil {
		return 0, rec, fmt.Errorf("decoding record: %w", err)
	}
	if err := checkResult(rec.Result); err != nil {
		return 0, rec, err
	}
	if err := checkDigests(rec.Targets); err != nil {
		return 0, rec, err
	}
	return f.Seq, rec, nil
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

// recordName is the name of the record file of seq, and segmentName that
// of log segment n.
func recordName(seq uint64) string { return fmt.Sprintf("%020d.json", seq) }
func segmentName(n uint64) string  { return fmt.Sprintf("%020d.log", n) }

// parseFileName returns the number in the name of a record file (its seq)
// or a log segment (its n), and which of the two it is.
func parseFileName(name string) (n uint64, segment bool, ok bool) {
	digits, segment := strings.CutSuffix(name, ".log")
	if !segment {
		if digits, ok = strings.CutSuffix(name, ".json"); !ok {
			return 0, false, false
		}
	}
	if len(digits) != 20 {
		return 0, false, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return n, segment, err == nil
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

// truncateFile durably cuts the file at path to size bytes.
func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
