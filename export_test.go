package hotreload

// MaxRecordings and MaxRecordingBytes are maxRecordings and
// maxRecordingBytes for the tests of package hotreload_test.
const (
	MaxRecordings     = maxRecordings
	MaxRecordingBytes = maxRecordingBytes
)
