package polling

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/vagov/lighthouse526/lighthouse"
)

// fetch asks Lighthouse about ids (none: no call). A batch refused as too
// large (413) is asked again in halves; a batch of several ids refused with
// 400, which is permanent and would otherwise archive every id in it, is
// asked again in parts until the ids it refuses are found (isolate).
func (p *BatchPoller) fetch(ctx context.Context, log *slog.Logger, ids []string) (Answer, error) {
	if len(ids) == 0 {
		return Answer{Resp: &lighthouse.StatusResponse{}}, nil
	}
	resp, err := p.ask(ctx, log, ids)
	if err == nil {
		return Answer{Asked: ids, Resp: resp}, nil
	}
	if !refusedWith400(err) || len(ids) < 2 {
		return Answer{}, err
	}
	// The refusal is a polling error, logged and counted once like any; the
	// isolation then says what it finds.
	p.countPollingError(ctx, log, ids, err)
	log.WarnContext(ctx, logBatchRefused, "batch_size", len(ids), "error", err.Error())
	iso := isolation{p: p, log: log}
	if err := iso.run(ctx, ids, false); err != nil {
		if refusedWith400(err) {
			// Refused whole, as at first: counted above.
			return Answer{}, countedError{err}
		}
		return Answer{}, err
	}
	return Answer{Asked: ids, Resp: iso.merged(), Refused: iso.refused, RefusedDetail: refusalDetail(err)}, nil
}

// countedError is a polling error already counted and logged.
type countedError struct{ error }

func (e countedError) Unwrap() error { return e.error }

// logBatchRefused is logged when a batch of several ids is refused with 400.
const logBatchRefused = "Lighthouse refused a status batch with 400; asking for it in parts to find the request ids it refuses, which are quarantined"

// ask calls Lighthouse once for ids. A batch the gateway refuses as too
// large (413, whose size limit is not documented), or one of more than
// provenCallSize ids that times out or gets a 504, is asked again in halves,
// recursively, and the answers merged: a POLL_BATCH_SIZE set too high slows
// polling down (and says so) instead of archiving every batch.
func (p *BatchPoller) ask(ctx context.Context, log *slog.Logger, ids []string) (*lighthouse.StatusResponse, error) {
	resp, err := p.Lighthouse.GetUploadStatuses(ctx, ids)
	msg := splitMessage(ctx, err, len(ids))
	if msg == "" {
		return resp, err
	}
	p.Updater.Metrics.PollingErrors.WithLabelValues(lighthouse.Reason(err)).Inc()
	log.WarnContext(ctx, msg, "batch_size", len(ids), "error", err.Error())
	half := len(ids) / 2
	first, err := p.ask(ctx, log, ids[:half])
	if err != nil {
		return nil, err
	}
	second, err := p.ask(ctx, log, ids[half:])
	if err != nil {
		return nil, err
	}
	return merge(first, second), nil
}

// Logged for every batch split in halves.
const (
	logBatchTooLarge = "Lighthouse refused a status batch as too large; asking for it in two halves (lower POLL_BATCH_SIZE)"
	logBatchTooSlow  = "Lighthouse did not answer a status batch of more than 100 ids in time; asking for it in two halves (lower POLL_BATCH_SIZE)"
)

// provenCallSize is the most ids per call the original ran in production
// for years (its POLLED_BATCH_DOCUMENT_COUNT): a larger call that times out
// may be too large, while one of this size that times out is retried whole.
const provenCallSize = 100

// splitMessage says why err makes a call of n ids worth asking again in
// halves, as the line to log, or "" when it does not: a 413 of two ids or
// more; a 504, or the call's own timeout (not the task's), of more than
// provenCallSize ids.
func splitMessage(ctx context.Context, err error, n int) string {
	var apiErr *lighthouse.APIError
	isAPI := errors.As(err, &apiErr)
	switch {
	case err == nil || n < 2:
		return ""
	case isAPI && apiErr.StatusCode == http.StatusRequestEntityTooLarge:
		return logBatchTooLarge
	case n <= provenCallSize:
		return ""
	case isAPI && apiErr.StatusCode == http.StatusGatewayTimeout,
		!isAPI && ctx.Err() == nil && lighthouse.Reason(err) == "timeout":
		return logBatchTooSlow
	}
	return ""
}

// isolation finds the ids Lighthouse refuses in a batch it refused with 400,
// and gets the answer for all the others.
//
// It narrows a part known to hold a refused id (at first, the whole batch)
// by asking for its first half only: answered, the refused id is in the
// second half, which need not be asked; refused, it is in the first, and the
// second half is set aside, unasked. At one id, that id is refused if a
// call holding it alone was answered 400: when it was reached by answers
// around it rather than by a refusal of its own, it is asked alone first, so
// that a transient 400 of the whole batch never quarantines the id that
// happened to be left last (issue 23: ids 10 and 3013). Then
// every part set aside is asked in one call, isolated the same way if it is
// refused too. One refused id among n costs ceil(log2 n) calls to find and
// one for the rest: a 400 for one id in 100 costs at most 8 calls after the
// batch's own.
//
// A 400 is not always about an id: the API may refuse every call for a
// reason of its own. So ids are quarantined only once Lighthouse answered
// some part of the batch; when no part is answered the batch fails with the
// 400 and no id is quarantined. That costs as many calls
// as isolating one id, after which the batch is archived.
type isolation struct {
	p        *BatchPoller
	log      *slog.Logger
	answers  []*lighthouse.StatusResponse
	refused  []string
	answered bool
}

// refusedAlone says that suspect is one id which a call holding it alone was
// just refused for.
func (iso *isolation) run(ctx context.Context, suspect []string, refusedAlone bool) error {
	var refusal error // the latest 400, returned if nothing is ever answered
	var setAside []string
	for len(suspect) > 1 {
		half := len(suspect) / 2
		resp, err := iso.p.ask(ctx, iso.log, suspect[:half])
		switch {
		case err == nil:
			iso.answer(resp)
			suspect = suspect[half:]
			refusedAlone = false
		case refusedWith400(err):
			refusal = err
			setAside = append(setAside, suspect[half:]...)
			suspect = suspect[:half]
			refusedAlone = half == 1
		default:
			return err
		}
	}
	if !refusedAlone {
		// Only a refusal of this id alone says it is the one refused.
		resp, err := iso.p.ask(ctx, iso.log, suspect)
		switch {
		case err == nil:
			iso.answer(resp)
		case refusedWith400(err):
			refusal = err
			refusedAlone = true
		default:
			return err
		}
	}
	if refusedAlone {
		iso.refused = append(iso.refused, suspect[0])
	}
	if len(setAside) > 0 {
		resp, err := iso.p.ask(ctx, iso.log, setAside)
		switch {
		case err == nil:
			iso.answer(resp)
		case !refusedWith400(err):
			return err
		case iso.answered:
			// Another refused id among them: find it the same way.
			return iso.run(ctx, setAside, len(setAside) == 1)
		default:
			refusal = err
		}
	}
	if !iso.answered {
		if refusal == nil {
			refusal = errors.New("lighthouse refused every part of the batch")
		}
		return refusal
	}
	return nil
}

func (iso *isolation) answer(resp *lighthouse.StatusResponse) {
	iso.answers = append(iso.answers, resp)
	iso.answered = true
}

// merged is every answer the isolation got, as one.
func (iso *isolation) merged() *lighthouse.StatusResponse {
	if len(iso.answers) == 1 {
		return iso.answers[0] // its statuses are slices of its body
	}
	out := &lighthouse.StatusResponse{}
	for _, r := range iso.answers {
		out = merge(out, r)
	}
	return out
}

// merge is the answers of two parts of a batch as one (with no single body).
func merge(a, b *lighthouse.StatusResponse) *lighthouse.StatusResponse {
	return &lighthouse.StatusResponse{
		Statuses:       append(a.Statuses, b.Statuses...),
		NotFound:       append(a.NotFound, b.NotFound...),
		Invalid:        append(a.Invalid, b.Invalid...),
		NotFoundErrors: append(a.NotFoundErrors, b.NotFoundErrors...),
	}
}

// refusedWith400 reports whether Lighthouse refused a call with 400.
func refusedWith400(err error) bool {
	var apiErr *lighthouse.APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusBadRequest
}

// refusalDetail is what Lighthouse said when it refused a call, kept short
// and quoted (it is shown to operators as it is stored), or "".
func refusalDetail(err error) string {
	var apiErr *lighthouse.APIError
	if !errors.As(err, &apiErr) {
		return ""
	}
	said := apiErr.Message
	for _, o := range apiErr.Errors {
		if o.Detail != "" {
			said = o.Detail
			break
		}
	}
	if said == "" {
		return ""
	}
	return strconv.Quote(truncate(said, 200))
}

// truncate cuts s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
