package polling

import (
	"context"

	"github.com/vagov/lighthouse526/lighthouse"

	"github.com/vagov/lighthouse526/models"
)

// BatchRows is a batch's pending uploads as read before its Lighthouse call:
// the ones to poll, and the quarantines of those that cannot be polled,
// written with the batch (models.WriteBatch).
type BatchRows struct {
	uploads     []models.PendingUpload // pollable, in id order
	quarantines []models.Quarantine
}

// Read reads the pending, not quarantined uploads of a batch's request ids
// (one statement, tolerating NULL in every nullable column) and sets aside
// those that cannot be polled (Unpollable), so that they are left out of the
// call and the rest of the batch is polled.
func (u *StatusUpdater) Read(ctx context.Context, requestIDs []string) (*BatchRows, error) {
	all, err := models.LoadPending(ctx, u.DB, requestIDs)
	if err != nil {
		return nil, err
	}
	b := &BatchRows{uploads: all[:0]}
	for i := range all {
		if q := Unpollable(&all[i]); q != nil {
			b.quarantines = append(b.quarantines, *q)
			continue
		}
		b.uploads = append(b.uploads, all[i])
	}
	return b, nil
}

// RequestIDs are the ids to ask Lighthouse about: the pollable uploads',
// each once (two uploads may share one), in id order.
func (b *BatchRows) RequestIDs() []string {
	seen := make(map[string]bool, len(b.uploads))
	ids := make([]string, 0, len(b.uploads))
	for i := range b.uploads {
		id := b.uploads[i].LighthouseDocumentRequestID
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}

// withoutRefused takes the uploads whose request id Lighthouse refused out
// of the pollable ones, into quarantines.
func (b *BatchRows) withoutRefused(refused []string, detail string) (uploads []models.PendingUpload, quarantines []models.Quarantine) {
	quarantines = b.quarantines[:len(b.quarantines):len(b.quarantines)]
	if len(refused) == 0 {
		return b.uploads, quarantines
	}
	isRefused := make(map[string]bool, len(refused))
	for _, id := range refused {
		isRefused[id] = true
	}
	why := "Lighthouse refused every status call holding this request id with 400"
	if detail != "" {
		why += ": " + detail
	}
	for i := range b.uploads {
		if isRefused[b.uploads[i].LighthouseDocumentRequestID] {
			quarantines = append(quarantines, models.Quarantine{UploadID: b.uploads[i].ID, Reason: models.QuarantineRefusedByLighthouse, Detail: why})
			continue
		}
		uploads = append(uploads, b.uploads[i])
	}
	return uploads, quarantines
}

// Answer is what Lighthouse said about a batch: the ids asked, its answer
// (merged, when the batch was asked in parts), and the ids it refused.
type Answer struct {
	Asked []string
	Resp  *lighthouse.StatusResponse
	// Refused are ids Lighthouse refused with 400 while it answered the ids
	// around them (BatchPoller asks in parts to find them, ask.go); RefusedDetail is what it said.
	Refused       []string
	RefusedDetail string
}
