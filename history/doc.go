// Package history is the durable version store behind the reload engine: a
// Store implements hotreload.History with plain files in a data directory.
// Memory returns a Store that keeps the same index and content in memory
// only (no files, no lock, nothing survives the process), so an engine can
// be built anywhere: tests, the dev loop, a library user's main.
//
// # On-disk layout
//
//	DIR/LOCK                       flock held while a Store is open
//	DIR/records/<n>.log            a segment of the records log; <n> is 20 digits
//	DIR/records/<seq>.json         one record, as written before the log (read only)
//	DIR/objects/<sha256>           snapshot content over 64 KiB, named by its hex SHA-256
//
// The records log is a sequence of segments, each a file of lines, one per
// record written: {"format":2,"seq":<seq>,"sha256":"<hex>","record":{...}},
// the hotreload.Record as JSON, its number and the SHA-256 of "<seq>\n"
// followed by exactly the record's bytes. Snapshot content of up to 64 KiB
// is a line of the log too, written before the first record that names
// it: {"format":2,"object":"<sha256>","data":"<base64>"}; larger content
// is a file of its own in objects/, and so is any beyond the first 8 MiB
// of content a Put brings. Put appends to the newest segment and starts
// the next one once it holds 1,000 lines, or before an append would take
// it past 16 MiB. A record written again
// (see below) is a new line with the same seq; the line written last is the
// record. Record files from before the log hold {"format":1,"sha256":...,
// "record":...} (the checksum of the record alone, the seq in the name);
// Open reads them before the segments, and they go as their records are
// rewritten or pruned. Records are numbered by attempt (seq), not by
// version, so that the order of List is the order of attempts. Snapshot
// content is stored once per distinct digest (content addressed), so a
// target a transaction did not touch costs nothing. The content the log
// holds is also kept in memory (so retention bounds the memory too), and
// Snapshot reads it there. Directories are
// created 0700 and files 0600: snapshots hold configuration.
//
// # Records and versions
//
// Put of a version that already has a record replaces that record (the
// engine writes a pending record at backup of a change the health gate
// watches, and the final one at the end; a change the gate does not watch
// gets only its final record, which carries its snapshots). An Unchanged
// record is the exception: it repeats the active version, so each one is
// appended as an attempt of its own and never replaces, nor is replaced by,
// the record that created the version. Get returns the
// record that created the version, or the latest unchanged attempt when
// there is none.
//
// LastGood is the newest committed record in attempt order: it moves only
// when a Put commits (or back, if the engine replaces its newest committed
// record with a failed one).
//
// # Durability
//
// Every object file is written to a temporary ".tmp-*" file in the objects
// directory, fsynced and renamed over its final name, and the directory is
// fsynced. Put writes the new object files first, all at once (at most 16
// in flight), then appends the lines of its small content and its records
// to the log in one write and fsyncs the segment, so the append is the
// commit point: when Put returns, the records and the content they name
// survive a crash (kill -9, power loss on a disk that honours fsync). A new
// segment is fsynced with its directory before the first line goes in. A
// record costs no new file, and neither does content of up to 64 KiB. A
// crash earlier leaves at most unreferenced objects, temporary files, and
// some of a batch's lines or a torn line at the end of the newest segment; Open removes the temporary files, reads
// the records like any other and cuts the torn line off. A Put whose append
// fails cuts the segment back, so none of its records is in the Store, and
// starts a new segment next time; it leaves at most unreferenced objects,
// which the next Put or Open removes. Pruning does not fsync its removals:
// a file a crash brings back is pruned again by the next Open.
//
// Open skips what it cannot read and keeps going: a record file, or a line
// of a segment other than the newest's last, that is not valid JSON, fails
// its checksum (an object line: its content does not match its digest) or
// has an unknown format is left on disk (a segment with
// such a line is never deleted), ignored and reported by Problems with its
// path (and line) and cause; so is a file there that is not a regular file
// (a named pipe is never waited on) or is larger than 64 MiB. Snapshot
// verifies the SHA-256 of every object it reads and reports a mismatch as a
// CodeInternal error, and so an object file that is not a regular file
// (never waited on) or is larger than 1 GiB. A record still pending at Open belongs to a
// transaction that a crash interrupted: it is rewritten as rolled back with
// a reason saying so.
//
// # Retention
//
// The content of the last 10 committed versions is kept (Options.Retain), and
// the content a pending record names until its transaction ends. Other
// content is dropped after each Put: Snapshot answers CodeNotFound for
// versions beyond retention and for versions that were not committed, and
// the records stay. Its object file is deleted at once; its line in the log
// goes when its segment is compacted: after the Put that finds the segment
// holds such a line, once Put appends to another segment, the content
// still kept there is appended again at the end of the log, and the
// segment is rewritten (a new file fsynced, then renamed over the old one)
// with only the newest lines of its records, so that each segment is
// compacted once. Dropped content stays on disk at most in the segment Put
// appends to (up to 1,000 lines or 16 MiB), in a segment a crash brought
// back, which Open compacts again, in a segment whose compaction failed,
// which each Put tries again until it succeeds, and in a segment holding a
// damaged line, which is left as it is. The newest committed version, the last
// known good, is always within the retained ones. Attempt records are kept
// up to the last 10,000 (Options.MaxRecords); older ones are dropped,
// except the records of retained versions, and a segment or record file is
// deleted once it holds no record's newest line and no content kept.
//
// # Concurrency
//
// A Store is safe for concurrent use. Writers (Put) are serialized; readers
// (Get, List, Snapshot, LastGood) read an in-memory index under a read lock
// that Put holds only to swap the index, never during disk I/O, so a slow
// fsync does not stall readers. Every Record returned is a copy the caller
// may keep or modify. Only one Store may have a directory open at a time,
// across processes: Open fails with CodeUnavailable while another holds
// DIR/LOCK (a killed process releases it).
package history
