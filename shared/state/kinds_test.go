package state

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestCheckCallbackEvents(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    []string
		want  []string
		kinds []string // what the bridge then delivers
		bad   bool
	}{
		{"none", nil, nil, []string{TypeMessage}, false},
		{"message is the default", []string{"message"}, nil, []string{TypeMessage}, false},
		{"first spellings", []string{CallbackMessage, CallbackChatCleared, CallbackMeetingEnded},
			[]string{CallbackChatCleared, CallbackMeetingEnded}, []string{TypeMessage, TypeCleared, TypeMeetingEnded}, false},
		{"new kinds", []string{TypeReactionAdded, TypeUserJoined, TypeGap},
			[]string{TypeReactionAdded, TypeUserJoined, TypeGap}, []string{TypeMessage, TypeUserJoined, TypeReactionAdded, TypeGap}, false},
		{"repeats once", []string{TypeCleared, TypeCleared}, []string{TypeCleared}, []string{TypeMessage, TypeCleared}, false},
		{"both spellings", []string{CallbackChatCleared, TypeCleared}, []string{CallbackChatCleared, TypeCleared},
			[]string{TypeMessage, TypeCleared}, false},
		{"all", []string{KindAll}, []string{KindAll}, CallbackKinds(), false},
		{"transcript", []string{KindTranscript}, []string{KindTranscript}, []string{TypeMessage, KindTranscript}, false},
		{"unknown", []string{TypeCleared, "reactions"}, nil, nil, true},
		{"a type that is no kind", []string{TypeMeetingCreated}, nil, nil, true},
		{"case matters", []string{"Cleared"}, nil, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CheckCallbackEvents(tc.in)
			if tc.bad {
				if !errors.Is(err, ErrUnknownKind) {
					t.Fatalf("CheckCallbackEvents(%q) = %q, %v; want ErrUnknownKind", tc.in, got, err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("CheckCallbackEvents(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			b := Bridge{CallbackURI: "http://x", CallbackEvents: got}
			if k := b.Kinds(); !slices.Equal(k, tc.kinds) {
				t.Fatalf("Kinds = %q, want %q", k, tc.kinds)
			}
		})
	}
}

func TestLegacyBody(t *testing.T) {
	for _, tc := range []struct {
		events       []string
		kind         string
		legacy, want bool
	}{
		{nil, TypeMessage, true, true},
		{[]string{KindAll}, TypeMessage, true, true},
		{[]string{CallbackChatCleared}, TypeCleared, true, true},
		{[]string{TypeCleared}, TypeCleared, false, true},
		{[]string{CallbackChatCleared, TypeCleared}, TypeCleared, false, true},
		{[]string{KindAll}, TypeMeetingEnded, false, true},
		{[]string{CallbackMeetingEnded}, TypeMeetingEnded, true, true},
		{[]string{CallbackMeetingEnded}, TypeCleared, true, false},
		{nil, TypeMeetingEnded, true, false},
	} {
		b := Bridge{CallbackURI: "http://x", CallbackEvents: tc.events}
		if got := b.LegacyBody(tc.kind); got != tc.legacy {
			t.Errorf("%q LegacyBody(%s) = %v", tc.events, tc.kind, got)
		}
		if got := b.Wants(tc.kind); got != tc.want {
			t.Errorf("%q Wants(%s) = %v", tc.events, tc.kind, got)
		}
	}
	if (Bridge{CallbackEvents: []string{KindAll}}).Wants(TypeCleared) {
		t.Error("a bridge without callback wants nothing")
	}
}

// FuzzCheckCallbackEvents: whatever a client sends as callback_events, what a bridge keeps is names of kinds
// (never message, each once), and every kept name is delivered.
func FuzzCheckCallbackEvents(f *testing.F) {
	f.Add("cleared,user.joined")
	f.Add("all,chatCleared,meetingEnded,sendChatMessage")
	f.Add("reactions, ,gap,gap")
	f.Fuzz(func(t *testing.T, s string) {
		names := strings.Split(s, ",")
		got, err := CheckCallbackEvents(names)
		if err != nil {
			if !errors.Is(err, ErrUnknownKind) {
				t.Fatalf("error %v is not ErrUnknownKind", err)
			}
			return
		}
		b := Bridge{CallbackURI: "http://x", CallbackEvents: got}
		seen := map[string]bool{}
		for _, n := range got {
			k, ok := NormaliseKind(n)
			if !ok || k == TypeMessage || seen[n] {
				t.Fatalf("kept %q of %q", n, names)
			}
			seen[n] = true
			if k != KindAll && !b.Wants(k) {
				t.Fatalf("kept %q but does not deliver it", n)
			}
		}
		if !b.Wants(TypeMessage) {
			t.Fatal("messages not delivered")
		}
	})
}
