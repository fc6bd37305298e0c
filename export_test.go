package hotreload

// MaxRecordings is maxRecordings for the tests of package hotreload_test.
const MaxRecordings = maxRecordings
