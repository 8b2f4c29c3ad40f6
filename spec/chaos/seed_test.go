package chaos_test

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"time"

	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/tasks"
)

// expectation is what must become of one upload: its final state, and the
// follow-up task it owes (none for BDD Instructions and for uploads that do
// not fail).
type expectation struct {
	requestID    string
	state        string
	notification string // task type, "" = none
	quarantine   string // the reason a poison row must end quarantined for, "" = none
}

// maxRequestID is the largest request id the scenarios' fake Lighthouse
// accepts: it numbers its documents from 1, so only poison rows go past it.
const maxRequestID = 1_000_000

// The kinds of poison row, in the order seed spreads them.
var poisonKinds = []string{
	models.QuarantineInvalidRequestID,    // letters
	models.QuarantineInvalidRequestID,    // twenty digits, past int64
	models.QuarantineMissingDocumentType, // NULL
	models.QuarantineInvalidDocumentType, // "Receipt"
	models.QuarantineRefusedByLighthouse, // valid here, past the fake's MaxRequestID
}

// seed creates n pending uploads, each with its own submission (so every
// follow-up payload is distinct), and scripts each one's outcome in the fake:
// about 55% SUCCESS, 25% FAILED (at either step), 20% IN_PROGRESS (stays
// pending). Types rotate through the four document types. poison of them,
// spread evenly, are rows that cannot be polled (seedPoison).
func seed(ctx context.Context, s *scenario, n, poison int) {
	rng := mrand.New(mrand.NewPCG(uint64(n), uint64(len(s.name))))
	now := time.Now().UTC()
	subs := make([]models.Form526Submission, n)
	for i := range subs {
		uuid := fmt.Sprintf("chaos-user-%d", i)
		subs[i] = models.Form526Submission{UserUUID: &uuid, CreatedAt: now, UpdatedAt: now}
	}
	Expect(s.w.gdb.WithContext(ctx).CreateInBatches(&subs, 500).Error).To(Succeed())

	var atts []models.FormAttachment
	for i := 0; i < n; i++ {
		if models.DocumentTypes[i%4] == models.DocumentTypeVeteranUpload {
			atts = append(atts, models.FormAttachment{GUID: newGUID(), Type: "SupportingEvidenceAttachment", CreatedAt: now, UpdatedAt: now})
		}
	}
	Expect(s.w.gdb.WithContext(ctx).CreateInBatches(&atts, 500).Error).To(Succeed())

	uploads := make([]models.Lighthouse526DocumentUpload, n)
	wants := make([]expectation, n)
	next := 0
	for i := range uploads {
		docType := models.DocumentTypes[i%4]
		doc := fake.Document{Started: now.Add(-2 * time.Hour), Ended: now.Add(-time.Hour)}
		want := expectation{state: models.StatePending}
		switch r := rng.Float64(); {
		case r < 0.55:
			doc.Outcome, want.state = fake.StatusSuccess, models.StateCompleted
		case r < 0.80:
			doc.Outcome, want.state = fake.StatusFailed, models.StateFailed
			doc.FailedStep = fake.StepClaimsEvidence
			if rng.IntN(2) == 0 {
				doc.FailedStep = fake.StepBGS
			}
			switch docType {
			case models.DocumentTypeVeteranUpload:
				want.notification = tasks.TypeDocumentUploadFailureEmail
			case models.DocumentTypeForm0781, models.DocumentTypeForm0781a:
				want.notification = tasks.TypeForm0781UploadFailureEmail
			}
		default:
			doc.Outcome = fake.StatusInProgress
		}
		want.requestID = s.fake.AddDocument(doc)
		u := models.Lighthouse526DocumentUpload{
			Form526SubmissionID: subs[i].ID, LighthouseDocumentRequestID: want.requestID,
			DocumentType: docType, CreatedAt: now, UpdatedAt: now,
		}
		if docType == models.DocumentTypeVeteranUpload {
			u.FormAttachmentID = &atts[next].ID
			next++
		}
		uploads[i], wants[i] = u, want
	}
	poisonAt := map[int]string{}
	for j := range poison {
		i := (j + 1) * n / (poison + 1) // never the last rows: a refused id is never alone in its batch
		poisonAt[i] = poisonKinds[j%len(poisonKinds)]
		uploads[i].LighthouseDocumentRequestID, wants[i] = poisonRequestID(poisonAt[i], j), expectation{state: models.StatePending, quarantine: poisonAt[i]}
	}
	Expect(s.w.gdb.WithContext(ctx).CreateInBatches(&uploads, 500).Error).To(Succeed())
	s.expected = make(map[int64]expectation, n)
	s.poisoned = map[string]bool{}
	for i, u := range uploads {
		wants[i].requestID = u.LighthouseDocumentRequestID
		s.expected[u.ID] = wants[i]
		if kind, ok := poisonAt[i]; ok {
			s.poisoned[u.LighthouseDocumentRequestID] = true
			seedPoison(ctx, s, u.ID, kind)
		}
	}
}

// poisonRequestID is the j-th poison row's request id.
func poisonRequestID(kind string, j int) string {
	switch {
	case kind == models.QuarantineInvalidRequestID && j%len(poisonKinds) == 0:
		return fmt.Sprintf("abc-%d", j)
	case kind == models.QuarantineInvalidRequestID:
		return fmt.Sprintf("999999999999999999%02d", j%100) // 20 digits, past int64
	case kind == models.QuarantineRefusedByLighthouse:
		return fmt.Sprint(maxRequestID + 1 + j)
	}
	// Valid and unknown to the fake: asked, it would be stamped polled, which
	// verify counts wrong.
	return fmt.Sprint(maxRequestID - 1 - j)
}

// seedPoison breaks an upload's row the way kind says, behind the model's
// back, as another writer of the table could.
func seedPoison(ctx context.Context, s *scenario, id int64, kind string) {
	switch kind {
	case models.QuarantineMissingDocumentType:
		Expect(s.w.gdb.WithContext(ctx).Exec(`UPDATE lighthouse526_document_uploads SET document_type = NULL WHERE id = ?`, id).Error).To(Succeed())
	case models.QuarantineInvalidDocumentType:
		Expect(s.w.gdb.WithContext(ctx).Exec(`UPDATE lighthouse526_document_uploads SET document_type = 'Receipt' WHERE id = ?`, id).Error).To(Succeed())
	}
}

func newGUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
