package integration

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/history"
	"github.com/cybercorp/hotreload/ui"
)

// uiServer is the UI half of the daemon, wired as `hotreload serve --ui`
// wires it: a watcher on the folder triggers engine transactions on the
// Assets target, whose outcome the hub shows and whose changes it pushes.
type uiServer struct {
	Dir    string
	Addr   string
	Hub    *ui.Hub
	Assets *ui.Assets
	Engine *hotreload.Engine

	stop func()
}

// copyFolder copies testdata/ui into a fresh folder and returns it.
func copyFolder(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir("testdata/ui", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata/ui", p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// startUI serves dir on addr ("127.0.0.1:0" for any port) with history in
// dataDir; extra functions may add routes. Stop it with s.Stop; t's cleanup
// stops it too.
func startUI(t *testing.T, dir, dataDir, addr string, extra ...func(*http.ServeMux)) *uiServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	store, err := history.Open(history.Options{Dir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	hub := ui.NewHub(ui.Options{})
	assets := ui.NewAssets(ui.AssetsOptions{Dir: dir, Hub: hub, Debounce: 30 * time.Millisecond})
	engine := hotreload.New(hotreload.Options{History: store, Observer: hub})
	ran := make(chan struct{})
	go func() { engine.Run(ctx); close(ran) }()
	if _, err := engine.Add(ctx, assets); err != nil {
		t.Fatalf("adding the UI target: %v", err)
	}
	watched := make(chan error, 1)
	go func() { watched <- assets.Watch(ctx, engine.Reload) }()

	mux := http.NewServeMux()
	hub.Register(mux)
	mux.Handle("/ui/", assets)
	for _, f := range extra {
		f(mux)
	}
	ln, err := listenRetry(addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	served := make(chan struct{})
	go func() { srv.Serve(ln); close(served) }()

	s := &uiServer{Dir: dir, Addr: ln.Addr().String(), Hub: hub, Assets: assets, Engine: engine}
	stopped := false
	s.stop = func() {
		if stopped {
			return
		}
		stopped = true
		hub.Close()
		srv.Close()
		<-served
		cancel()
		if err := <-watched; err != nil {
			t.Errorf("watching the UI folder: %v", err)
		}
		<-ran
		store.Close()
	}
	t.Cleanup(s.Stop)
	return s
}

// listenRetry listens on addr, retrying briefly while a previous server's
// port is still being released.
func listenRetry(addr string) (net.Listener, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			return ln, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop shuts the server down: sockets close with "going away".
func (s *uiServer) Stop() { s.stop() }

// URL returns the page URL.
func (s *uiServer) URL() string { return "http://" + s.Addr + "/ui/" }

// write replaces a file of the UI folder the way an editor saves: a
// temporary file renamed over the old one.
func (s *uiServer) write(t *testing.T, name, content string) {
	t.Helper()
	p := filepath.Join(s.Dir, filepath.FromSlash(name))
	tmp := filepath.Join(filepath.Dir(p), ".tmp-"+filepath.Base(p))
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
}
