// Package httpjson writes the JSON answers every HTTP handler of the project
// shares: a value with a status, and errors in the one shape the admin API
// documents, {"error": {"code", "message", "details"}}, with the status the
// root error table maps the code to. It holds no state.
package httpjson

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/cybercorp/hotreload"
)

// Write answers v as JSON with the status.
func Write(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		WriteError(w, hotreload.Errorf(hotreload.CodeInternal, "encoding the answer: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// ErrorBody is the JSON form of every error answer.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code    hotreload.Code         `json:"code"`
	Message string                 `json:"message"`
	Details []hotreload.FieldError `json:"details"`
}

// Body returns the error answer of err: its code, its message and every
// field error it carries.
func Body(err error) ErrorBody {
	msg := err.Error()
	var e *hotreload.Error
	if errors.As(err, &e) {
		msg = e.Message
	}
	details := hotreload.ErrorDetails(err)
	if details == nil {
		details = []hotreload.FieldError{}
	}
	return ErrorBody{Error: ErrorDetail{Code: hotreload.ErrorCode(err), Message: msg, Details: details}}
}

// WriteError answers err with the status its code maps to.
func WriteError(w http.ResponseWriter, err error) {
	Write(w, hotreload.HTTPStatus(hotreload.ErrorCode(err)), Body(err))
}
