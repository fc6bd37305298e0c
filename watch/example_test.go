package watch_test

import (
	"log"
	"time"

	"github.com/cybercorp/hotreload/watch"
)

// A config file reloaded on every change, including saves through a
// Kubernetes ConfigMap volume, with the bytes the watcher hashed.
func ExampleNew() {
	w, err := watch.New(watch.Options{
		Files:    []string{"/etc/app/config.yaml"},
		Debounce: watch.Off, // report each settled change at once
		Poll:     10 * time.Second,
		Contents: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	for b := range w.Events() {
		for _, err := range b.Errors {
			log.Printf("watch: %v", err) // also counted in w.Stats()
		}
		for _, p := range b.Paths {
			log.Printf("%s changed: %d bytes", p, len(b.Contents[p]))
		}
	}
}

// A UI folder watched recursively, ignoring editor droppings; changes
// within 100 ms of each other arrive in one batch.
func ExampleNew_dirs() {
	w, err := watch.New(watch.Options{
		Dirs:      []string{"ui"},
		Recursive: true,
		Exclude:   []string{".*", "*~", "4913", "node_modules"},
		Debounce:  100 * time.Millisecond,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	for b := range w.Events() {
		log.Printf("changed %q, removed %q", b.Paths, b.Removed)
	}
}
