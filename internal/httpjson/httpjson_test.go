package httpjson

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cybercorp/hotreload"
)

func TestWriteError(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
		code   hotreload.Code
	}{
		{"Invalid", &hotreload.Error{Code: hotreload.CodeInvalid, Message: "bad", Details: []hotreload.FieldError{{Path: "/a", Message: "x"}}}, 422, hotreload.CodeInvalid},
		{"NotFound", hotreload.Errorf(hotreload.CodeNotFound, "no version %d", 7), 404, hotreload.CodeNotFound},
		{"PlainIsInternal", errors.New("boom"), 500, hotreload.CodeInternal},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteError(rec, c.err)
			if rec.Code != c.status || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
			}
			var b ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
				t.Fatal(err)
			}
			if b.Error.Code != c.code || b.Error.Message == "" || b.Error.Details == nil {
				t.Fatalf("body %+v", b)
			}
		})
	}
}

func TestWrite(t *testing.T) {
	rec := httptest.NewRecorder()
	Write(rec, http.StatusCreated, map[string]int{"n": 1})
	if rec.Code != 201 || rec.Body.String() != "{\"n\":1}\n" {
		t.Fatalf("%d %q", rec.Code, rec.Body.String())
	}
}
