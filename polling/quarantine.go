package polling

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/models"
)

// An upload that cannot be polled is quarantined instead of holding back its
// batch: found before the Lighthouse call and left out of it, recorded in
// lighthouse526_upload_poll_states (so the due scan and ad hoc polls leave it
// out and it is not read again every cycle), logged once, counted by reason,
// and listed by `worker uploads stuck`. An operator fixes the row and
// releases it (`worker uploads release`). Where each kind is found:
//
//   - a request id outside lighthouse.ValidRequestID: by the cycle's fan-out
//     and the ad hoc poll, before a batch is made (a batch payload only
//     carries valid ids);
//   - a missing or unknown document type: by the batch's read;
//   - a request id Lighthouse refuses although it is valid here: by the
//     batch, which asks again in parts to find it, and quarantines it only
//     once a call holding it alone was refused (BatchPoller, ask.go).

// logQuarantined is logged once per upload quarantined.
const logQuarantined = "quarantined an upload that cannot be polled: it is left out of polling until its row is fixed and it is released (worker uploads release)"

// invalidRequestID is the quarantine of an upload whose request id no
// Lighthouse call may hold, or nil when the id is valid.
func invalidRequestID(uploadID int64, requestID string) *models.Quarantine {
	if lighthouse.ValidRequestID(requestID) {
		return nil
	}
	return &models.Quarantine{
		UploadID: uploadID,
		Reason:   models.QuarantineInvalidRequestID,
		Detail:   fmt.Sprintf("lighthouse_document_request_id %.40q is not a positive integer of int64, which Lighthouse refuses", requestID),
	}
}

// Unpollable says why a pending upload read for a batch cannot be polled, or
// returns nil. Its request id is valid (the batch asked for it by that id).
func Unpollable(up *models.PendingUpload) *models.Quarantine {
	if q := invalidRequestID(up.ID, up.LighthouseDocumentRequestID); q != nil {
		return q
	}
	switch {
	case up.DocumentType == "":
		return &models.Quarantine{UploadID: up.ID, Reason: models.QuarantineMissingDocumentType,
			Detail: "document_type is NULL or empty: no outcome can be counted or followed up"}
	case !models.ValidDocumentType(up.DocumentType):
		return &models.Quarantine{UploadID: up.ID, Reason: models.QuarantineInvalidDocumentType,
			Detail: fmt.Sprintf("document_type %.40q is none of %q", up.DocumentType, models.DocumentTypes)}
	}
	return nil
}

// ScreenDue splits due uploads into those whose request id a batch may
// carry and the quarantines of the others.
func ScreenDue(due []models.DueUpload) (good []models.DueUpload, bad []models.Quarantine) {
	for _, d := range due {
		if q := invalidRequestID(d.ID, d.LighthouseDocumentRequestID); q != nil {
			bad = append(bad, *q)
			continue
		}
		good = append(good, d)
	}
	return good, bad
}

// Quarantine writes quarantines found outside a batch (one statement), then
// logs and counts those that took effect.
func Quarantine(ctx context.Context, db *gorm.DB, m *Metrics, log *slog.Logger, qs []models.Quarantine, now time.Time) error {
	done, err := models.QuarantineUploads(ctx, db, qs, now)
	if err != nil {
		return err
	}
	m.reportQuarantined(ctx, log, done)
	return nil
}

// reportQuarantined logs and counts quarantines that took effect: once per
// upload, however many workers found the row, since only the statement that
// quarantined it returns it.
func (m *Metrics) reportQuarantined(ctx context.Context, log *slog.Logger, done []models.Quarantine) {
	for _, q := range done {
		m.Quarantined.WithLabelValues(q.Reason).Inc()
		log.WarnContext(ctx, logQuarantined, "upload_id", q.UploadID, "reason", q.Reason, "detail", q.Detail)
	}
}
