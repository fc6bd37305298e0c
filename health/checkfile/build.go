package checkfile

import (
	"database/sql"
	"io"
	"net/url"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver for sql checks

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/health"
)

// Built is a check made from a Spec, with what it owns.
type Built struct {
	Spec    Spec
	Check   health.Check
	Options health.CheckOptions
	// closer releases what the check owns (an sql pool); may be nil.
	closer io.Closer
}

// Close releases what the check owns.
func (b *Built) Close() error {
	if b.closer == nil {
		return nil
	}
	return b.closer.Close()
}

// Build makes every check of a parsed file. Nothing connects yet: an sql
// check's pool dials on its first run. On error, what was built is closed.
func (f *File) Build() ([]*Built, error) {
	out := make([]*Built, 0, len(f.Checks))
	for _, s := range f.Checks {
		var db *sql.DB
		if s.Kind == "sql" {
			var err error
			if db, err = sql.Open("pgx", s.DSN); err != nil {
				closeAll(out)
				return nil, hotreload.Errorf(hotreload.CodeInvalid, "check %q: opening %q: %w", s.Name, redact(s.DSN), err)
			}
		}
		c, err := s.check(db)
		if err != nil {
			closeAll(out)
			return nil, err
		}
		b := &Built{Spec: s, Check: c, Options: s.CheckOptions(f.Defaults)}
		if db != nil {
			b.closer = db
		}
		out = append(out, b)
	}
	return out, nil
}

// check returns the health check for s over db (nil for all but sql).
func (s Spec) check(db *sql.DB) (health.Check, error) {
	switch s.Kind {
	case "http":
		return health.HTTPCheck{URL: s.URL, Status: s.Status, MaxLatency: s.MaxLatency}, nil
	case "websocket":
		return health.WebSocketCheck{URL: s.URL}, nil
	case "sql":
		if db == nil { // validating only
			if _, err := pgx.ParseConfig(s.DSN); err != nil {
				return nil, &hotreload.Error{Code: hotreload.CodeInvalid, Message: "sql check: invalid dsn",
					Details: []hotreload.FieldError{{Path: "/dsn", Message: err.Error()}}}
			}
			return nil, nil
		}
		return health.SQLCheck{DB: db, Query: s.Query}, nil
	case "memory":
		return health.MemoryCheck{Max: s.Max}, nil
	case "cpu":
		return health.CPUCheck{Window: s.Window, Max: s.Max}, nil
	case "disk":
		return health.DiskCheck{Path: s.Path, Max: s.Max}, nil
	}
	return nil, hotreload.Errorf(hotreload.CodeInvalid, "check %q: unknown kind %q", s.Name, s.Kind)
}

func closeAll(bs []*Built) {
	for _, b := range bs {
		_ = b.Close()
	}
}

// redact hides a DSN's password.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(an unparsable DSN)"
	}
	return u.Redacted()
}
