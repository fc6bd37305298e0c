package fleet_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cybercorp/hotreload/internal/testwait"

	"filippo.io/age"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cybercorp/hotreload/secret"
	"github.com/cybercorp/hotreload/source/etcd/etcdtest"
)

// TestFleetKeysHoldNoSecret: a fleet member rejects a config from etcd
// whose encrypted secret fails the schema; the attempt it writes into the
// fleet's keys, and its log, hold no plaintext of the secret.
func TestFleetKeysHoldNoSecret(t *testing.T) {
	cluster := etcdtest.Start(t, 1)
	eps := cluster.Endpoints()
	client := cluster.Client(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "age.key")
	if out, err := exec.Command(binary, "secret", "keygen", "--out", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("keygen: %v %s", err, out)
	}
	ids, err := secret.LoadIdentities(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	encrypt := func(s string) string {
		v, err := secret.Encrypt([]byte(s), ids[0].(*age.X25519Identity).Recipient())
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	schema := filepath.Join(dir, "schema.json")
	if err := os.WriteFile(schema, []byte(`{"type": "object", "properties": {"v": {"type": "number"}, "password": {"type": "string", "pattern": "^[a-z]+$"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	leak := "FleetLeak-" + strings.ReplaceAll(filepath.Base(dir), "Test", "")
	put(t, client, key, fmt.Sprintf(`{"v": 0, "password": %q}`, encrypt("good")))
	in := &instance{id: "s1", log: &testwait.Output{}, args: []string{
		"serve", "--mode", "dev", "--source", "etcd://" + strings.Join(eps, ",") + key,
		"--fleet", prefix, "--instance-id", "s1", "--fleet-ttl", "2s", "--schema", schema, "--age-identity", keyFile,
		"--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0", "--health-window", "0s",
	}}
	in.start(t)
	defer in.stop()
	waitValues(t, 0, in)

	put(t, client, key, fmt.Sprintf(`{"v": 1, "password": %q}`, encrypt(leak)))
	// The rejection reaches the fleet's keys as the instance's last attempt.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := client.Get(ctx, prefix, clientv3.WithPrefix())
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		all := ""
		for _, kv := range resp.Kvs {
			all += string(kv.Key) + " " + string(kv.Value) + "\n"
		}
		if strings.Contains(all, leak) || strings.Contains(in.log.Tail(1<<20), leak) {
			t.Fatalf("the plaintext of the secret is in the fleet's keys or the log:\n%s", all)
		}
		if strings.Contains(all, "rejected") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no rejected attempt in the fleet's keys within 30 s:\n%s\nlog:\n%s", all, in.log.Tail(4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if in.value() != 0 {
		t.Fatalf("the instance serves v=%v after the rejection, want 0", in.value())
	}
}
