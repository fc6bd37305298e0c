package watch_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cybercorp/hotreload/watch"
)

func TestFollow(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a.txt")
	w, err := watch.New(watch.Options{Files: []string{file}, Debounce: watch.Off, Poll: watch.Off})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan []string, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Follow(ctx, func(b watch.Batch) { got <- b.Paths }, nil)
	}()
	if err := os.WriteFile(file, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case paths := <-got:
		if len(paths) != 1 || paths[0] != file {
			t.Fatalf("paths %v", paths)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Follow delivered no change")
	}
	cancel()
	<-done
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
