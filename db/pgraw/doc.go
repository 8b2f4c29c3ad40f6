// Package pgraw is the database protocol plumbing under models' hot paths,
// below GORM: a statement prepared and run on pgx's protocol layer
// (ExecPrepared), rows scanned by a function per query rather than by
// reflection (Rows), and a Go slice bound as one binary array parameter
// (ArrayOf).
//
// It sits under db/ but is a package of its own, named pgraw rather than
// db, because models calls its functions from code whose *gorm.DB variables
// are named db: a package db would be shadowed there and need an import
// alias at every call site. It imports neither db nor models.
package pgraw
