package etcd

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/cybercorp/hotreload"
)

// URL is a parsed etcd source address: etcd://HOST:PORT[,HOST:PORT]/KEY.
type URL struct {
	// Endpoints are the members' client addresses, "host:port".
	Endpoints []string
	// Key is the etcd key that holds the configuration, with its leading
	// slash ("/app/config.json").
	Key string
}

// ParseURL parses etcd://HOST:PORT[,HOST:PORT]/KEY.
func ParseURL(s string) (URL, error) {
	rest, ok := strings.CutPrefix(s, "etcd://")
	if !ok {
		return URL{}, hotreload.Errorf(hotreload.CodeInvalid, "etcd source %q: want etcd://HOST:PORT[,HOST:PORT]/KEY", s)
	}
	hosts, key, ok := strings.Cut(rest, "/")
	if !ok || key == "" {
		return URL{}, hotreload.Errorf(hotreload.CodeInvalid, "etcd source %q: no key after the endpoints", s)
	}
	eps, err := ParseEndpoints(hosts)
	if err != nil {
		return URL{}, hotreload.Errorf(hotreload.CodeInvalid, "etcd source %q: %w", s, err)
	}
	return URL{Endpoints: eps, Key: "/" + key}, nil
}

// ParseEndpoints parses a comma-separated list of HOST:PORT.
func ParseEndpoints(s string) ([]string, error) {
	var eps []string
	for h := range strings.SplitSeq(s, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(h); err != nil || port == "" {
			return nil, hotreload.Errorf(hotreload.CodeInvalid, "endpoint %q: want HOST:PORT", h)
		}
		eps = append(eps, h)
	}
	if len(eps) == 0 {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "no etcd endpoint")
	}
	return eps, nil
}

// ClientOptions say how to reach etcd.
type ClientOptions struct {
	// Endpoints are the members' client addresses, "host:port".
	Endpoints []string
	// CACert is a PEM file of the CA that signed the members' certificates;
	// setting it (or Cert) turns TLS on.
	CACert string
	// Cert and Key are a PEM client certificate and its key, for members
	// that require client certificates.
	Cert, Key string
	// Username and Password authenticate to etcd when auth is enabled.
	Username, Password string
	// DialTimeout bounds the first connection (5 s when 0).
	DialTimeout time.Duration
}

// Connect returns a client for o. It does not wait for a member to answer:
// requests block (or fail with their context) until one does.
func Connect(o ClientOptions) (*clientv3.Client, error) {
	if len(o.Endpoints) == 0 {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "connecting to etcd: no endpoint")
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = 5 * time.Second
	}
	cfg := clientv3.Config{
		Endpoints:            o.Endpoints,
		DialTimeout:          o.DialTimeout,
		DialKeepAliveTime:    2 * time.Second,
		DialKeepAliveTimeout: 2 * time.Second,
		Username:             o.Username,
		Password:             o.Password,
		Logger:               zap.NewNop(),
	}
	if o.CACert != "" || o.Cert != "" {
		tc, err := tlsConfig(o)
		if err != nil {
			return nil, err
		}
		cfg.TLS = tc
	}
	c, err := clientv3.New(cfg)
	if err != nil {
		return nil, hotreload.Errorf(hotreload.CodeUnavailable, "connecting to etcd %s: %w", strings.Join(o.Endpoints, ","), err)
	}
	return c, nil
}

func tlsConfig(o ClientOptions) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CACert != "" {
		pem, err := os.ReadFile(o.CACert)
		if err != nil {
			return nil, fmt.Errorf("reading the etcd CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, hotreload.Errorf(hotreload.CodeInvalid, "etcd CA %q holds no PEM certificate", o.CACert)
		}
		tc.RootCAs = pool
	}
	if (o.Cert == "") != (o.Key == "") {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "an etcd client certificate needs both a cert and a key file")
	}
	if o.Cert != "" {
		pair, err := tls.LoadX509KeyPair(o.Cert, o.Key)
		if err != nil {
			return nil, fmt.Errorf("reading the etcd client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}
