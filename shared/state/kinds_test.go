package state

import (
	"errors"
	"slices"
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
