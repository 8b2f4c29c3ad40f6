package polling

import (
	"testing"

	"github.com/vagov/lighthouse526/models"
)

// A failed Veteran Upload's follow-up names its attachment's guid: without
// one there is no follow-up, and the reason says which part is missing (an
// attachment row cannot be missing or guid-less in this schema, whose
// foreign key and NOT NULL forbid it, but the application's may differ).
func TestNotificationOfVeteranUploadWithoutGUID(t *testing.T) {
	u := &StatusUpdater{Emails: EmailsAlways(true)}
	attachment, guid, empty := int64(7), "0c2b3ae4-1f4e-4b8e-9a51-3f0a2f8e9c11", ""
	for _, c := range []struct {
		name       string
		up         models.PendingUpload
		wantSkip   string
		wantNotify bool
	}{
		{"no form attachment", models.PendingUpload{DocumentType: models.DocumentTypeVeteranUpload}, skipNoFormAttachment, false},
		{"no attachment row or a NULL guid", models.PendingUpload{DocumentType: models.DocumentTypeVeteranUpload, FormAttachmentID: &attachment}, skipNoAttachmentGUID, false},
		{"an empty guid", models.PendingUpload{DocumentType: models.DocumentTypeVeteranUpload, FormAttachmentID: &attachment, FormAttachmentGUID: &empty}, skipNoAttachmentGUID, false},
		{"its guid", models.PendingUpload{DocumentType: models.DocumentTypeVeteranUpload, FormAttachmentID: &attachment, FormAttachmentGUID: &guid}, "", true},
		{"a Form 0781, which names no attachment", models.PendingUpload{DocumentType: models.DocumentTypeForm0781}, "", true},
	} {
		n, skipped := u.notification(t.Context(), &c.up)
		if skipped != c.wantSkip || (n != nil) != c.wantNotify {
			t.Errorf("%s: notification %v, skipped %q; want a notification %v, skipped %q", c.name, n, skipped, c.wantNotify, c.wantSkip)
		}
	}
}
