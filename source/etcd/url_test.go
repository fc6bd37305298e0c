package etcd_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/source/etcd"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		in        string
		endpoints []string
		key       string
		err       string
	}{
		{in: "etcd://127.0.0.1:2379/app/config.json", endpoints: []string{"127.0.0.1:2379"}, key: "/app/config.json"},
		{in: "etcd://a:1,b:2,c:3/k", endpoints: []string{"a:1", "b:2", "c:3"}, key: "/k"},
		{in: "http://a:1/k", err: "want etcd://"},
		{in: "etcd://a:1", err: "no key"},
		{in: "etcd://a:1/", err: "no key"},
		{in: "etcd://a/k", err: `endpoint "a": want HOST:PORT`},
		{in: "etcd:///k", err: "no etcd endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := etcd.ParseURL(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseURL(%q) = %v, want an error containing %q", tt.in, err, tt.err)
				}
				if hotreload.ErrorCode(err) != hotreload.CodeInvalid {
					t.Errorf("code = %s, want invalid", hotreload.ErrorCode(err))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(u.Endpoints, tt.endpoints) || u.Key != tt.key {
				t.Errorf("ParseURL(%q) = %+v", tt.in, u)
			}
		})
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"etcd://127.0.0.1:2379/k", "etcd://a:1,b:2/x/y", "etcd://", "etcd://:/", "etcd://[::1]:2379/k"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := etcd.ParseURL(s)
		if err != nil {
			return
		}
		if len(u.Endpoints) == 0 || !strings.HasPrefix(u.Key, "/") || len(u.Key) < 2 {
			t.Fatalf("ParseURL(%q) = %+v without an error", s, u)
		}
	})
}
