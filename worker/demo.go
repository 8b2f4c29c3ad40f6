//go:build dev

package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"golang.org/x/sync/errgroup"

	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/tasks"
)

// demoCodes are the document codes the demo uploads with, in turn: BDD
// instructions, Form 0781, Form 0781a and two kinds of veteran evidence.
var demoCodes = []string{"L023", "L228", "L229", "L107", "L070"}

// demoPDF is the sample document (a tiny PDF; the fake only counts bytes).
var demoPDF = []byte("%PDF-1.4\n% lighthouse526 demo document\n%%EOF\n")

func demoSeedCmd(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("demo-seed", flag.ContinueOnError)
	count := fs.Int("count", 300, "documents to upload and track")
	perSubmission := fs.Int("per-submission", 5, "documents per Form 526 submission")
	concurrency := fs.Int("concurrency", 16, "uploads in flight")
	reset := fs.Bool("reset", false, "first delete the demo's queues (QUEUE_NAME and NOTIFICATION_QUEUE must contain \"demo\")")
	if err := parseFlags(fs, args, stdout, "demo-seed [--count 300] [--per-submission 5] [--concurrency 16] [--reset]", 0); err != nil {
		return err
	}
	var check flagCheck
	check.positive("count", int64(*count))
	check.positive("per-submission", int64(*perSubmission))
	check.positive("concurrency", int64(*concurrency))
	if err := check.err(); err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	logger := newLogger(cfg)
	gdb, err := openDB(ctx, cfg, logger, "lighthouse526-demo")
	if err != nil {
		return err
	}
	defer db.Close(gdb)
	rdb, err := newRedis(cfg)
	if err != nil {
		return err
	}
	client := asynq.NewClientFromRedisClient(rdb)
	defer client.Close()
	if *reset {
		if err := resetDemoQueues(asynq.NewInspectorFromRedisClient(rdb), cfg.QueueName, cfg.NotificationQueue); err != nil {
			return err
		}
	}
	lh, err := newLighthouse(cfg, rdb, newRegistry(), logger)
	if err != nil {
		return err
	}

	var uploaded, tracked atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(*concurrency, 1))
	var submission models.Form526Submission
	for i := range *count {
		if i%max(*perSubmission, 1) == 0 {
			userUUID := uuid.NewString()
			submission = models.Form526Submission{UserUUID: &userUUID}
			if err := gdb.WithContext(ctx).Create(&submission).Error; err != nil {
				return fmt.Errorf("create a submission: %w", err)
			}
		}
		code := demoCodes[i%len(demoCodes)]
		p := tasks.TrackPayload{Form526SubmissionID: submission.ID, DocumentCode: code}
		if models.DocumentTypeForCode(code) == models.DocumentTypeVeteranUpload {
			att := models.FormAttachment{GUID: uuid.NewString(), Type: "SupportingEvidenceAttachment"}
			if err := gdb.WithContext(ctx).Create(&att).Error; err != nil {
				return fmt.Errorf("create an attachment: %w", err)
			}
			p.FormAttachmentID = &att.ID
		}
		claimID := 600000000 + submission.ID
		g.Go(func() error {
			id, err := lh.UploadDocument(gctx, lighthouse.UploadParams{
				SystemName: "VA.gov", DocType: code, ClaimID: claimID,
				ParticipantID: "600000000", FileName: fmt.Sprintf("demo-%04d.pdf", i),
			}, bytes.NewReader(demoPDF))
			if err != nil {
				return fmt.Errorf("upload document %d: %w", i, err)
			}
			uploaded.Add(1)
			p.LighthouseDocumentRequestID = id
			task, err := tasks.NewTrackTask(cfg.QueueName, p)
			if err != nil {
				return err
			}
			if _, err := tasks.Enqueue(gctx, client, task); err != nil {
				return fmt.Errorf("enqueue the track of document %d: %w", i, err)
			}
			tracked.Add(1)
			return nil
		})
	}
	err = g.Wait()
	fmt.Fprintf(stdout, "uploaded %d documents to Lighthouse and enqueued %d %s tasks on queue %s\n",
		uploaded.Load(), tracked.Load(), tasks.TypeDocumentUploadTrack, cfg.QueueName)
	return err
}

// resetDemoQueues deletes the demo's own queues with their tasks, so that a
// second demo run does not find the first one's task ids taken. It refuses
// any queue whose name does not say it is a demo's.
func resetDemoQueues(insp *asynq.Inspector, queues ...string) error {
	// A queue Redis has never seen is left alone: on a fresh Redis the
	// inspector's DeleteAllCompletedTasks answers "queue does not exist"
	// without wrapping asynq.ErrQueueNotFound.
	existing, err := insp.Queues()
	if err != nil {
		return fmt.Errorf("reset: list queues: %w", err)
	}
	for _, q := range queues {
		if !strings.Contains(q, "demo") {
			return &exitError{code: 2, err: fmt.Errorf("--reset deletes queues: %q is not named as a demo queue", q)}
		}
		if !slices.Contains(existing, q) {
			continue
		}
		// DeleteQueue leaves completed tasks (kept for their retention) behind,
		// and their task ids would refuse this run's identical tasks.
		if _, err := insp.DeleteAllCompletedTasks(q); err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
			return fmt.Errorf("reset queue %s: %w", q, err)
		}
		if err := insp.DeleteQueue(q, true); err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
			return fmt.Errorf("reset queue %s: %w", q, err)
		}
	}
	return nil
}
