// Package watch reports changes to the content of files: a set of named
// files and/or whole directories (optionally recursive, filtered by globs).
//
// # What it watches
//
// Inotify watches (through fsnotify) are placed on directories, never on
// the files themselves, so every way of saving a file is seen: writing in
// place, truncating then writing, writing a temporary file and renaming it
// over, an editor renaming the original away and writing a new one, deleting
// and recreating, and the Kubernetes ConfigMap pattern, where the file is a
// symlink through "..data" and "..data" itself is swapped by a rename. When
// a watched file is a symlink, the directory holding its final target is
// watched as well. When a watched directory disappears the watch moves to the
// nearest existing ancestor and re-arms as soon as the directory is back;
// every file in a re-armed directory is then checked again.
//
// # What it reports
//
// Each file's content is hashed with SHA-256. A batch names only files
// whose content differs from what was last reported (or the baseline taken
// by New): rewriting identical bytes reports nothing, and each real change is
// reported exactly once. A file that disappears, or is emptied, is held for
// Options.Grace before that state is reported, so a delete-then-recreate or a
// truncate-then-write usually reports only the final content.
//
// With Options.Contents each batch carries the bytes it hashed, so the
// consumer applies exactly what the watcher saw, and any later change is
// reported again. Without it the consumer re-reads the files it is told
// about: the last batch naming a file is sent after the file reached its
// final content, so a consumer that re-reads on every batch ends on the final
// content, but a read that races a save may see a state the watcher never
// reported. A file written in several steps (truncate, write, write) may be
// reported once half written, then again when complete; the consumer's
// validation rejects the half.
//
// Changes are gathered for Options.Debounce: a batch is sealed once no event
// arrived for that long, and at the latest four Debounce periods after its
// first change. With Debounce set to Off, the events already queued are
// drained and the changed files are reported at once.
//
// A poll (Options.Poll, every few seconds by default) hashes every watched
// file and lists every watched directory, so a change inotify missed (a lost
// or overflowed event, a network file system, a hard link written through
// another directory) is still reported, late. Stats.PollCatches counts those.
//
// # Concurrency and backpressure
//
// One goroutine per Watcher owns all state. It hands batches over an
// unbuffered channel (Events). While the consumer is busy, the goroutine keeps
// reading inotify and coalesces every further change into the pending batch:
// a slow consumer never blocks inotify reading, never loses a change, and
// receives each file once per batch with the newest state folded in. The
// pending batch's errors are capped at 64; further errors are still counted
// and summed up in one last error of that batch.
//
// Errors never stop the watcher. Each one (an unreadable file, a failed
// watch, an inotify queue overflow, which also triggers a full rescan) is
// counted in Stats, passed to Options.OnError if set, and delivered in
// Batch.Errors. OnError runs on the watcher's goroutine: it must return
// quickly and must not call Close.
//
// Close stops the goroutine, closes the inotify descriptor and closes the
// Events channel; it always succeeds on a live watcher, may be called more
// than once and from any goroutine, and leaks no goroutine or descriptor.
package watch
