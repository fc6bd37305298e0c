package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// suiteDepartures are the cases of the JSON-Schema-Test-Suite (draft
// 2020-12, required tests) where hotreload departs from the specification
// on purpose, each with its reason; docs/security.md lists them too. Keys
// are "file/group description/test description".
var suiteDepartures = map[string]string{
	"default.json/invalid string value for default/still valid when the invalid default is used":                                                  fillDefaults,
	"default.json/invalid type for default/still valid when the invalid default is used":                                                          fillDefaults,
	"default.json/the default keyword does not do anything if the property is missing/missing properties are not filled in with the default":      fillDefaults,
	"dynamicRef.json/$ref and $dynamicAnchor are independent of order - $defs first/correct extended schema":                                      noRemoteRef,
	"dynamicRef.json/$ref and $dynamicAnchor are independent of order - $ref first/correct extended schema":                                       noRemoteRef,
	"dynamicRef.json/$ref to $dynamicRef finds detached $dynamicAnchor/number is valid":                                                           noRemoteRef,
	"dynamicRef.json/strict-tree schema, guards against misspelled properties/instance with correct field":                                        noRemoteRef,
	"dynamicRef.json/tests for implementation dynamic anchor and reference link/correct extended schema":                                          noRemoteRef,
	"format.json/date format/invalid date string is only an annotation by default":                                                                assertFormat,
	"format.json/date-time format/invalid date-time string is only an annotation by default":                                                      assertFormat,
	"format.json/duration format/invalid duration string is only an annotation by default":                                                        assertFormat,
	"format.json/email format/invalid email string is only an annotation by default":                                                              assertFormat,
	"format.json/hostname format/invalid hostname string is only an annotation by default":                                                        assertFormat,
	"format.json/ipv4 format/invalid ipv4 string is only an annotation by default":                                                                assertFormat,
	"format.json/ipv6 format/invalid ipv6 string is only an annotation by default":                                                                assertFormat,
	"format.json/iri format/invalid iri string is only an annotation by default":                                                                  assertFormat,
	"format.json/iri-reference format/invalid iri-reference string is only an annotation by default":                                              assertFormat,
	"format.json/json-pointer format/invalid json-pointer string is only an annotation by default":                                                assertFormat,
	"format.json/regex format/invalid regex string is only an annotation by default":                                                              assertFormat,
	"format.json/relative-json-pointer format/invalid relative-json-pointer string is only an annotation by default":                              assertFormat,
	"format.json/time format/invalid time string is only an annotation by default":                                                                assertFormat,
	"format.json/uri format/invalid uri string is only an annotation by default":                                                                  assertFormat,
	"format.json/uri-reference format/invalid uri-reference string is only an annotation by default":                                              assertFormat,
	"format.json/uri-template format/invalid uri-template string is only an annotation by default":                                                assertFormat,
	"format.json/uuid format/invalid uuid string is only an annotation by default":                                                                assertFormat,
	"refRemote.json/$ref to $ref finds detached $anchor/number is valid":                                                                          noRemoteRef,
	"refRemote.json/Location-independent identifier in remote ref/integer is valid":                                                               noRemoteRef,
	"refRemote.json/anchor within remote ref/remote anchor valid":                                                                                 noRemoteRef,
	"refRemote.json/base URI change - change folder in subschema/number is valid":                                                                 noRemoteRef,
	"refRemote.json/base URI change - change folder/number is valid":                                                                              noRemoteRef,
	"refRemote.json/base URI change/base URI change ref valid":                                                                                    noRemoteRef,
	"refRemote.json/fragment within remote ref/remote fragment valid":                                                                             noRemoteRef,
	"refRemote.json/ref within remote ref/ref within ref valid":                                                                                   noRemoteRef,
	"refRemote.json/remote HTTP ref with different $id/string is valid":                                                                           noRemoteRef,
	"refRemote.json/remote HTTP ref with different URN $id/string is valid":                                                                       noRemoteRef,
	"refRemote.json/remote HTTP ref with nested absolute ref/string is valid":                                                                     noRemoteRef,
	"refRemote.json/remote ref with ref to defs/valid":                                                                                            noRemoteRef,
	"refRemote.json/remote ref/remote ref valid":                                                                                                  noRemoteRef,
	"refRemote.json/retrieved nested refs resolve relative to their URI not $id/string is valid":                                                  noRemoteRef,
	"refRemote.json/root ref in remote ref/null is valid":                                                                                         noRemoteRef,
	"refRemote.json/root ref in remote ref/string is valid":                                                                                       noRemoteRef,
	"vocabulary.json/ignore unrecognized optional vocabulary/number value":                                                                        noRemoteRef,
	"vocabulary.json/schema that uses custom metaschema with with no validation vocabulary/no validation: invalid number, but it still validates": noRemoteRef,
	"vocabulary.json/schema that uses custom metaschema with with no validation vocabulary/no validation: valid number":                           noRemoteRef,
}

// The reasons for the departures in suiteDepartures.
const (
	assertFormat = "format is asserted: a config value that is not a valid date, email, URI… is an error, not an annotation"
	fillDefaults = "defaults are filled in before validation, so an invalid default makes a config that omits the property invalid"
	noRemoteRef  = "a remote $ref is never fetched: only files in the schema's directory are loaded, so the schema does not compile"
)

// TestJSONSchemaTestSuite runs every required draft 2020-12 case of the
// official suite (config/testdata/json-schema-test-suite, see its COMMIT)
// through what a config goes through: the schema compiled by CompileSchema
// from a file, defaults filled, then validated.
func TestJSONSchemaTestSuite(t *testing.T) {
	files, err := filepath.Glob("testdata/json-schema-test-suite/tests/draft2020-12/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no suite files: %v", err)
	}
	dir := t.TempDir()
	var total, agreed, departed int
	seen := map[string]bool{}
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var groups []struct {
			Description string          `json:"description"`
			Schema      json.RawMessage `json:"schema"`
			Tests       []struct {
				Description string          `json:"description"`
				Data        json.RawMessage `json:"data"`
				Valid       bool            `json:"valid"`
			} `json:"tests"`
		}
		if err := json.Unmarshal(src, &groups); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, g := range groups {
			schemaFile := filepath.Join(dir, "schema.json")
			if err := os.WriteFile(schemaFile, g.Schema, 0o600); err != nil {
				t.Fatal(err)
			}
			s, compileErr := LoadSchema(schemaFile)
			for _, c := range g.Tests {
				total++
				key := filepath.Base(file) + "/" + g.Description + "/" + c.Description
				valid, problem := false, ""
				if compileErr != nil {
					problem = "schema: " + compileErr.Error()
				} else {
					doc, err := Decode("instance.json", c.Data, JSON)
					if err != nil {
						t.Fatalf("%s: decoding the instance: %v", key, err)
					}
					filled, err := s.Defaults(doc.Value)
					if err != nil {
						problem = err.Error()
					} else if errs := s.Validate(doc.withValue(filled), false); len(errs) > 0 {
						problem = errs[0].String()
					} else {
						valid = true
					}
				}
				_, skip := suiteDepartures[key]
				seen[key] = true
				switch {
				case valid == c.Valid && skip:
					t.Errorf("%s: agrees with the suite but is listed as a departure", key)
				case valid == c.Valid:
					agreed++
				case skip:
					departed++
				default:
					t.Errorf("%s: valid = %v, the suite says %v (%s)", key, valid, c.Valid, problem)
				}
			}
		}
	}
	for key := range suiteDepartures {
		if !seen[key] {
			t.Errorf("departure %q names no case of the suite", key)
		}
	}
	t.Logf("%d cases: %d agree, %d named departures", total, agreed, departed)
}
