package bench

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/lighthouse/fake"
)

// The seeded mix, decided by the upload id i (1..N) on both sides (the
// database and the fake), so nothing per document crosses between them:
//   - document type by i % 10: 0-6 Veteran Upload (with a form attachment),
//     7 BDD Instructions, 8 Form 0781, 9 Form 0781a;
//   - outcome by (i * 37) % 100: <80 SUCCESS, <90 FAILED, else IN_PROGRESS;
//   - three documents per submission.
const seedSQL = `
INSERT INTO form526_submissions (id, user_uuid, created_at, updated_at)
SELECT s, md5('user' || s), now(), now() FROM generate_series(1, @submissions) s;

INSERT INTO form_attachments (id, guid, type, created_at, updated_at)
SELECT i, md5('attachment' || i)::uuid, 'SupportingEvidenceAttachment', now(), now()
  FROM generate_series(1, @documents) i WHERE i % 10 < 7;

INSERT INTO lighthouse526_document_uploads (id, form526_submission_id, form_attachment_id,
    lighthouse_document_request_id, aasm_state, document_type, created_at, updated_at)
SELECT i, (i - 1) / 3 + 1, CASE WHEN i % 10 < 7 THEN i END, i::text, 'pending',
       CASE i % 10 WHEN 7 THEN 'BDD Instructions' WHEN 8 THEN 'Form 0781' WHEN 9 THEN 'Form 0781a'
                   ELSE 'Veteran Upload' END,
       now() - interval '2 hours', now() - interval '2 hours'
  FROM generate_series(1, @documents) i;

SELECT setval(pg_get_serial_sequence('form526_submissions', 'id'), @submissions);
SELECT setval(pg_get_serial_sequence('form_attachments', 'id'), @documents);
SELECT setval(pg_get_serial_sequence('lighthouse526_document_uploads', 'id'), @documents);`

// floorTable is the fresh copy of the seed that the floor's bulk UPDATE runs on.
const floorTable = "bench_floor_uploads"

// copyIndexesSQL gives the floor's copy every index of the uploads table.
const copyIndexesSQL = `DO $$
DECLARE def text;
BEGIN
  FOR def IN SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'lighthouse526_document_uploads' LOOP
    EXECUTE replace(replace(def, ' ON ' || current_schema() || '.lighthouse526_document_uploads ', ' ON ' || current_schema() || '.` + floorTable + ` '),
                    'INDEX ', 'INDEX floor_');
  END LOOP;
END$$`

// outcome is the fake's answer for upload i.
func outcome(i int) string {
	switch o := (i * 37) % 100; {
	case o < 80:
		return fake.StatusSuccess
	case o < 90:
		return fake.StatusFailed
	default:
		return fake.StatusInProgress
	}
}

// createDatabase drops and creates the bench database and returns its URL.
func createDatabase(ctx context.Context, adminURL, name string) (string, error) {
	admin, err := db.Open(ctx, db.Options{URL: adminURL, MaxOpenConns: 1})
	if err != nil {
		return "", fmt.Errorf("bench: connect to the maintenance database: %w", err)
	}
	defer db.Close(admin)
	quoted := `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
	if err := admin.WithContext(ctx).Exec(`DROP DATABASE IF EXISTS ` + quoted + ` WITH (FORCE)`).Error; err != nil {
		return "", fmt.Errorf("bench: drop %s: %w", name, err)
	}
	if err := admin.WithContext(ctx).Exec(`CREATE DATABASE ` + quoted).Error; err != nil {
		return "", fmt.Errorf("bench: create %s: %w", name, err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// dropDatabase removes the bench database.
func dropDatabase(ctx context.Context, adminURL, name string) error {
	admin, err := db.Open(ctx, db.Options{URL: adminURL, MaxOpenConns: 1})
	if err != nil {
		return err
	}
	defer db.Close(admin)
	return admin.WithContext(ctx).Exec(`DROP DATABASE IF EXISTS "` + strings.ReplaceAll(name, `"`, `""`) + `" WITH (FORCE)`).Error
}

// migrateAndSeed applies the migrations and seeds n pending uploads with
// set-based statements (foreign-key triggers off for the session: the rows
// are consistent by construction), then makes the floor's copy and
// VACUUM ANALYZEs both tables as autovacuum would have in production.
// withoutIndexes drops the worker's recommended indexes first (the floor's
// copy then lacks them too).
func migrateAndSeed(ctx context.Context, gdb *gorm.DB, n int, withoutIndexes bool) error {
	m, err := db.NewMigrator(gdb)
	if err != nil {
		return err
	}
	if _, err := m.Up(ctx); err != nil {
		return fmt.Errorf("bench: migrate: %w", err)
	}
	args := map[string]any{"documents": n, "submissions": (n + 2) / 3}
	err = gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`SET LOCAL session_replication_role = replica`).Error; err != nil {
			return err
		}
		for _, stmt := range strings.Split(seedSQL, ";") {
			if strings.TrimSpace(stmt) == "" {
				continue
			}
			if err := tx.Exec(stmt, args).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bench: seed: %w", err)
	}
	if withoutIndexes {
		sqlDB, err := gdb.DB()
		if err != nil {
			return err
		}
		if err := db.DropRecommendedIndexes(ctx, sqlDB); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	for _, stmt := range []string{
		// The copy gets the same indexes, built after the rows are in (faster
		// than maintaining them row by row).
		`CREATE TABLE ` + floorTable + ` (LIKE lighthouse526_document_uploads INCLUDING DEFAULTS)`,
		`INSERT INTO ` + floorTable + ` SELECT * FROM lighthouse526_document_uploads`,
		copyIndexesSQL,
		`VACUUM ANALYZE`,
	} {
		if err := gdb.WithContext(ctx).Exec(stmt).Error; err != nil {
			return fmt.Errorf("bench: %s: %w", strings.Fields(stmt)[0], err)
		}
	}
	return nil
}

// registerDocuments gives the fake one scripted document per upload, request
// ids "1".."n" in upload id order.
func registerDocuments(srv *fake.Server, n int) error {
	started := time.Now().Add(-time.Hour)
	ended := started.Add(10 * time.Minute)
	for i := 1; i <= n; i++ {
		d := fake.Document{Outcome: outcome(i), Started: started}
		if d.Outcome != fake.StatusInProgress {
			d.Ended = ended
		}
		if d.Outcome == fake.StatusFailed && i%2 == 0 {
			d.FailedStep = fake.StepBGS
		}
		if id := srv.AddDocument(d); id != strconv.Itoa(i) {
			return fmt.Errorf("bench: the fake gave request id %s to document %d: it must start empty", id, i)
		}
	}
	srv.WarmStatuses()
	return nil
}
