package apispec

import (
	"net/http"
	"strings"
	"testing"
)

// TestCheckAnswer: the check finds what it is for — an undocumented field, a missing required one, a wrong type,
// an undescribed status — and passes a right answer.
func TestCheckAnswer(t *testing.T) {
	doc, err := Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ok := `{"success": true, "message": "Chat was ended", "meeting_id": "m"}`
	tests := []struct {
		name, body string
		status     int
		wantErr    string
	}{
		{"right", ok, 200, ""},
		{"undocumented field", `{"success": true, "message": "x", "meeting_id": "m", "secret": 1}`, 200, "does not document: [secret]"},
		{"missing field", `{"success": true, "message": "x"}`, 200, "meeting_id"},
		{"wrong type", `{"success": true, "message": "x", "meeting_id": 5}`, 200, "meeting_id"},
		{"error answer", `{"success": false, "message": "Chat was not found"}`, 404, ""},
		{"error answer with more", `{"success": false, "message": "x", "detail": "y"}`, 404, "detail"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckAnswer(t.Context(), doc, http.MethodPost, "/api/endChatForMeeting", "/api/endChatForMeeting", nil,
				tc.status, http.Header{"Content-Type": {"application/json"}}, []byte(tc.body))
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v; want %q", err, tc.wantErr)
			}
		})
	}
}
