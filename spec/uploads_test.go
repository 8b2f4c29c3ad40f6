package spec_test

import (
	"context"
	"time"

	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
)

// upload describes a row to seed.
type upload struct {
	requestID    string
	documentType string     // default BDD Instructions
	polledAt     *time.Time // status_last_polled_at; nil = never polled
	state        string     // default pending
	createdAt    *time.Time // default now
}

// seedUploads inserts one submission and the uploads, and returns their ids
// in order.
func seedUploads(ctx context.Context, ups ...upload) []int64 {
	now := time.Now().UTC()
	sub := models.Form526Submission{CreatedAt: now, UpdatedAt: now}
	Expect(gdb.WithContext(ctx).Create(&sub).Error).To(Succeed())
	ids := make([]int64, len(ups))
	for i, u := range ups {
		row := models.Lighthouse526DocumentUpload{
			Form526SubmissionID:         sub.ID,
			LighthouseDocumentRequestID: u.requestID,
			DocumentType:                u.documentType,
			CreatedAt:                   now,
			UpdatedAt:                   now,
		}
		if u.createdAt != nil {
			row.CreatedAt = u.createdAt.UTC()
		}
		if row.DocumentType == "" {
			row.DocumentType = models.DocumentTypeBDDInstructions
		}
		Expect(gdb.WithContext(ctx).Create(&row).Error).To(Succeed())
		ids[i] = row.ID
		// Terminal states and old polls are set behind the model's back, as
		// an earlier cycle would have left them.
		if u.state != "" && u.state != models.StatePending {
			Expect(gdb.WithContext(ctx).Exec(`UPDATE lighthouse526_document_uploads
				SET aasm_state = ?, lighthouse_processing_ended_at = ?, error_message = '{"detail":"x","step":"CLAIMS_EVIDENCE"}'
				WHERE id = ?`, u.state, now, row.ID).Error).To(Succeed())
		}
		if u.polledAt != nil {
			Expect(gdb.WithContext(ctx).Exec(`UPDATE lighthouse526_document_uploads SET status_last_polled_at = ? WHERE id = ?`,
				u.polledAt.UTC(), row.ID).Error).To(Succeed())
		}
	}
	return ids
}

// inProgressUploads seeds n pending uploads whose documents the fake keeps in
// progress forever, and returns their request ids.
func (w *world) inProgressUploads(ctx context.Context, n int) []string {
	ids := make([]string, n)
	ups := make([]upload, n)
	for i := range n {
		ids[i] = w.fake.AddDocument(fake.Document{Outcome: fake.StatusInProgress})
		ups[i] = upload{requestID: ids[i]}
	}
	seedUploads(ctx, ups...)
	return ids
}

// loadUploads reads every upload in id order.
func loadUploads(ctx context.Context) []models.Lighthouse526DocumentUpload {
	var out []models.Lighthouse526DocumentUpload
	Expect(gdb.WithContext(ctx).Order("id").Find(&out).Error).To(Succeed())
	return out
}

// loadUpload reads one upload.
func loadUpload(ctx context.Context, id int64) models.Lighthouse526DocumentUpload {
	var u models.Lighthouse526DocumentUpload
	Expect(gdb.WithContext(ctx).Take(&u, "id = ?", id).Error).To(Succeed())
	return u
}

// allPolled reports whether every upload has been stamped polled.
func allPolled(ctx context.Context) func() bool {
	return func() bool {
		var n int64
		Expect(gdb.WithContext(ctx).Model(&models.Lighthouse526DocumentUpload{}).
			Where("status_last_polled_at IS NULL").Count(&n).Error).To(Succeed())
		return n == 0
	}
}

func ago(d time.Duration) *time.Time {
	t := time.Now().Add(-d)
	return &t
}
