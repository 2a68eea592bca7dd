package bbb

import (
	"errors"
	"testing"
)

func goldenChatEdit(v Version) ChatEdit {
	return ChatEdit{MeetingID: m30, UserID: "w_xfsb9gxtlfom", MessageID: "1730000000900-ab12cd34",
		Message: Render(v, DefaultTemplate, "Ada *Lovelace*", "fixed <b>typo</b>"), Timestamp: 1730000001000}
}

func goldenChatDelete() ChatDelete {
	return ChatDelete{MeetingID: m30, UserID: "w_xfsb9gxtlfom", MessageID: "1730000000900-ab12cd34", Timestamp: 1730000001000}
}

func TestGoldenEncodeModeration(t *testing.T) {
	for _, v := range append(allVersions, Version{4, 0}) { // 4.0 sends the 3.0 requests (docs/protocol.md §9)
		t.Run(v.String(), func(t *testing.T) {
			edit, eerr := EncodeChatEdit(v, goldenChatEdit(v))
			del, derr := EncodeChatDelete(v, goldenChatDelete())
			if !v.HasMessageEdits() {
				if !errors.Is(eerr, ErrUnsupported) || !errors.Is(derr, ErrUnsupported) || edit != nil || del != nil {
					t.Fatalf("version %s: got %s, %v and %s, %v; want ErrUnsupported", v, edit, eerr, del, derr)
				}
				return
			}
			if eerr != nil || derr != nil {
				t.Fatal(eerr, derr)
			}
			checkGolden(t, "chat-edit-"+v.String()+".json", edit)
			checkGolden(t, "chat-delete-"+v.String()+".json", del)
		})
	}
}

func TestEncodeModerationInvalid(t *testing.T) {
	v := Version{3, 0}
	edits := map[string]func(*ChatEdit){
		"no meeting":   func(e *ChatEdit) { e.MeetingID = "" },
		"no user":      func(e *ChatEdit) { e.UserID = "" },
		"no message":   func(e *ChatEdit) { e.MessageID = "" },
		"empty text":   func(e *ChatEdit) { e.Message = "" },
		"bad utf-8":    func(e *ChatEdit) { e.Message = "a\xffb" },
		"no timestamp": func(e *ChatEdit) { e.Timestamp = 0 },
	}
	for name, change := range edits {
		t.Run("edit "+name, func(t *testing.T) {
			e := goldenChatEdit(v)
			change(&e)
			if got, err := EncodeChatEdit(v, e); !errors.Is(err, ErrInvalid) || got != nil {
				t.Fatalf("got %s, %v; want ErrInvalid", got, err)
			}
		})
	}
	deletes := map[string]func(*ChatDelete){
		"no meeting":   func(d *ChatDelete) { d.MeetingID = "" },
		"no user":      func(d *ChatDelete) { d.UserID = "" },
		"no message":   func(d *ChatDelete) { d.MessageID = "" },
		"no timestamp": func(d *ChatDelete) { d.Timestamp = -1 },
	}
	for name, change := range deletes {
		t.Run("delete "+name, func(t *testing.T) {
			d := goldenChatDelete()
			change(&d)
			if got, err := EncodeChatDelete(v, d); !errors.Is(err, ErrInvalid) || got != nil {
				t.Fatalf("got %s, %v; want ErrInvalid", got, err)
			}
		})
	}
}
