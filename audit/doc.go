// Package audit keeps the append-only, tamper-evident record of every
// mutation attempt: who asked, from where, when, what (targets, versions
// and SHA-256 digests before and after), the result and the reason.
//
// The log is a file of JSON lines (DATA_DIR/audit.log). Each line carries a
// sequence number, the MAC of the line before it and its own HMAC-SHA256
// over all of that, keyed by a 32-byte secret kept in DATA_DIR/audit.key
// (0600, created on first use). A head file (audit.head) holds the last
// sequence number and MAC under their own HMAC, so that cutting lines off
// the end is detected too; a new log gets a signed head at once. Verify
// names every edited, deleted, inserted, reordered or truncated line.
//
// Rotation: when audit.log reaches Options.MaxSize it is renamed
// audit.log.N (N its last record) and a new audit.log continues the chain,
// starting with a rotate record. Closed files beyond Options.Keep are
// removed after a rotate record naming where the kept chain begins is
// durable, so that VerifyDir, which reads every file as one chain, tells
// that removal apart from any other.
//
// Open compares the end of the chain with the head. A partial last line
// the head never acknowledged is a write cut by a crash: it is cut. A log
// that ends before its head, or in a line that is no valid record, lost or
// changed acknowledged records: Open leaves it as it is, every Append but
// the start's fails and Check reports it, until AcceptGap records the gap.
// Open also verifies the whole chain once (Opened).
//
// Concurrency and backpressure: a Log is safe for concurrent use. One
// writer goroutine appends and fsyncs records in arrival order. A caller
// waits for its record to be durable, but never longer than the Log's
// timeout (or its context): if the record cannot be written in time the
// call fails, and the caller must refuse the mutation (fail closed). While
// a write is stuck or the file is broken, every later call fails fast with
// the same error, and Check reports it to the health monitor. The writer
// repairs a partly written line (truncating back to the last complete
// record) before it accepts the next one.
package audit
