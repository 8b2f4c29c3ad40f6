package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
)

// releasedUpload is what `uploads release --json` prints.
type releasedUpload struct {
	UploadID         int64     `json:"upload_id"`
	QuarantinedAt    time.Time `json:"quarantined_at"`
	QuarantineReason string    `json:"quarantine_reason"`
	QuarantineDetail string    `json:"quarantine_detail"`
	// StillUnpollable, when set, says why the row would be quarantined
	// again by the next cycle: it was released before it was fixed.
	StillUnpollable string `json:"still_unpollable,omitempty"`
}

// releaseUpload ends an upload's quarantine after an operator fixed its row,
// so that the next cycle polls it, and says so; exit 3 when the upload is
// not quarantined. It warns when the row still breaks a rule that is checked
// without asking Lighthouse (the next cycle would quarantine it again).
func releaseUpload(ctx context.Context, gdb *gorm.DB, arg string, w io.Writer, asJSON bool) error {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id <= 0 {
		return &exitError{code: 2, err: fmt.Errorf("%q is not an upload id (the id column, as `uploads stuck` lists it)", arg)}
	}
	was, err := models.ReleaseUpload(ctx, gdb, id, time.Now())
	if errors.Is(err, models.ErrNotQuarantined) {
		return &exitError{code: 3, err: fmt.Errorf("upload %d is not quarantined", id)}
	}
	if err != nil {
		return err
	}
	out := releasedUpload{UploadID: id, QuarantineReason: deref(was.QuarantineReason), QuarantineDetail: deref(was.QuarantineDetail)}
	if was.QuarantinedAt != nil {
		out.QuarantinedAt = *was.QuarantinedAt
	}
	if q, err := unpollableNow(ctx, gdb, id); err != nil {
		return err
	} else if q != nil {
		out.StillUnpollable = q.Reason + ": " + q.Detail
	}
	if asJSON {
		return writeJSONOut(w, out)
	}
	fmt.Fprintf(w, "released upload %d (quarantined %s: %s); the next cycle polls it\n",
		id, stamp(&out.QuarantinedAt), out.QuarantineReason)
	if out.StillUnpollable != "" {
		fmt.Fprintf(w, "warning: its row is still wrong (%s): the next cycle will quarantine it again\n", out.StillUnpollable)
	}
	return nil
}

// unpollableNow checks an upload's row against the rules a batch applies
// before the Lighthouse call; nil when it passes them (or is not pending).
func unpollableNow(ctx context.Context, gdb *gorm.DB, id int64) (*models.Quarantine, error) {
	up, err := models.PendingUploadByID(ctx, gdb, id)
	if err != nil || up == nil {
		return nil, err
	}
	return polling.Unpollable(up), nil
}

// shownRequestID prints a request id as it is, or quoted when it is not a
// valid one (it may hold anything, control characters included).
func shownRequestID(id string) string {
	if lighthouse.ValidRequestID(id) {
		return id
	}
	return strconv.Quote(id)
}

// quarantineText is a stuck upload's quarantine, for the table: its reason
// and detail (which quotes whatever came from the row or Lighthouse), or "-".
func quarantineText(s models.StuckUpload) string {
	if s.QuarantineReason == nil {
		return "-"
	}
	return *s.QuarantineReason + ": " + deref(s.QuarantineDetail)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
