/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ui: what the console's files share.  Everything here runs on the UI
 * thread, which alone owns curses. */
#ifndef DROVER_UI_H
#define DROVER_UI_H

#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#include <curses.h>
#include <stddef.h>
#include <stdint.h>

#include "face/cli.h"
#include "ops/job.h"
#include "model/model.h"
#include "face/session.h"
#include "view.h"

/* What an action or an event changed: the one repaint point draws only
 * these parts. */
enum {
    UI_DIRTY_HEADER = 1 << 0,
    UI_DIRTY_TABLE = 1 << 1,
    UI_DIRTY_PANE = 1 << 2,
    UI_DIRTY_STATUS = 1 << 3,   /* message line and job line */
    UI_DIRTY_DIALOG = 1 << 4,
    UI_DIRTY_ALL = 0xff,
    UI_LAYOUT = 1 << 8,         /* size or panes changed: clear and draw everything */
    UI_REBUILD = 1 << 9,        /* rows, filter or sort changed: rebuild the view */
    UI_QUIT = 1 << 10,
};

/* Semantic colours; each has a colour and a monochrome rendering. */
typedef enum {
    UI_R_NORMAL = 0,
    UI_R_TITLE,
    UI_R_HEADER,
    UI_R_SEL,
    UI_R_OK,
    UI_R_WARN,
    UI_R_CRIT,
    UI_R_DIM,
    UI_R_DLG,
    UI_R_DLG_TITLE,
    UI_R_DELETE,
    UI_R_CREATE,
    UI_R_INPUT,
    UI_R_BUTTON,
    UI_R_BUTTON_ON,
    UI_R_ERROR,
    UI_R_INFO,
    UI_R_BAR,
    UI_R_KEY,
    UI_R_RECOVERED,             /* STATE 5 (and 12): failed over, waits for commit or revert */
    UI_R_COMMITTED,             /* STATE 6: permanent, no way back */
    UI_R_COUNT
} UiRole;

/* Line drawing and symbols: Unicode when the locale is UTF-8, else ASCII. */
typedef struct {
    const char *h, *v, *tl, *tr, *bl, *br;
    const char *bar, *bar_empty;
    const char *up, *down;
    const char *use;            /* the layer the domain uses now */
    const char *branch;         /* a layer on the one above it */
    const char *ell;
    const char *arrow;
    const char *dot;
    const char *good, *bad;
} UiGlyphs;

/* Dialog pseudo-operations beyond StateOp: repair, and drover's own
 * replication (src/repl) on a replica it replicates. */
#define UI_OP_REPAIR OP_COUNT
#define UI_OP_REPLICATE (OP_COUNT + 1)     /* replicate now: one cycle */
#define UI_OP_SUSPEND (OP_COUNT + 2)       /* suspend replication: 3 -> 7 */
#define UI_OP_RESUME (OP_COUNT + 3)        /* resume replication: 7 -> 3 */
#define UI_OP_RESYNC (OP_COUNT + 4)        /* full resynchronisation */
#define UI_OP_PLANNED (OP_COUNT + 5)       /* planned failover: f, then Planned */

typedef enum {
    DLG_PICK,           /* choose a recovery point or a commit option */
    DLG_PLAN,           /* the plan and the confirmation */
    DLG_PROGRESS,       /* a job started here, then its decoded result */
    DLG_MESSAGE,        /* text, e.g. a decoded result */
    DLG_QUIT,
    DLG_HELP,
    DLG_CANCEL_JOB,     /* cancel the job in job_id? (only before its switch) */
} DlgKind;

typedef struct {
    char *label;
    char *value;
    int disabled;               /* shown, marked, never chosen (a broken point) */
} DlgItem;

typedef struct Dialog {
    DlgKind kind;
    int op;                     /* StateOp or UI_OP_* */
    /* The pinned target: never follows the cursor. */
    size_t host;
    char uuid[37];
    char vm[256];
    char hostname[128];
    char *title;
    /* DLG_PICK */
    DlgItem *items;
    size_t nitems;
    size_t sel;
    int waiting;                /* for the VM's record */
    int choice;                 /* f on a replica drover replicates: planned or unplanned */
    int touched;                /* the operator moved the selection */
    /* DLG_PLAN */
    char *point;
    int flatten;
    int start;                  /* planned failover: start the replica after */
    int force;                  /* failover: the split-brain guard overridden (F), a
                                 * reason required */
    unsigned plan_id;           /* 0 when not planning */
    Plan *plan;
    ModelReplPlan *rplan;       /* the plan of a replication op */
    int failed;
    ErrInfo err;
    int replanned;              /* shown again because the plan changed */
    unsigned row_version;       /* the row as it was when planned */
    char input[128];
    char reason[256];
    int field;                  /* 0 confirmation, 1 reason */
    /* DLG_PROGRESS */
    char job_id[37];
    /* DLG_MESSAGE */
    char *text;                 /* paragraphs separated by "\n" */
    UiRole role;
    int scroll;
} Dialog;

typedef enum { PANE_NONE = 0, PANE_DETAIL, PANE_JOBS } PaneKind;

typedef struct {
    char id[37];
    int reported;               /* its end was shown */
} UiTracked;

#define UI_MAX_DIALOGS 8

typedef struct Console {
    Session *s;
    const CliConsoleOpts *o;
    Model *m;
    View view;
    int readonly;               /* --readonly or readonly in the configuration */
    int keys_seen;              /* the operator has pressed a key */
    int mono;
    int utf8;
    UiGlyphs g;
    const char *dump_path;      /* DROVER_SCREEN_DUMP */
    /* Layout. */
    int rows, cols;
    int too_small;
    int table_y, table_h;
    int pane_y, pane_h;
    int msg_y, jobs_y;
    PaneKind pane;
    int pane_focus;             /* arrows scroll the pane */
    int pane_scroll;
    int pane_lines;             /* lines the pane had last time */
    /* The message line and the filter prompt. */
    int filtering;
    char msg[512];
    UiRole msg_role;
    /* Warnings that came while another one was still unseen. */
    char msg_queue[4][512];
    UiRole msg_queue_role[4];
    int nqueued;
    /* Dialogs, the top one gets the keys. */
    Dialog *dlg[UI_MAX_DIALOGS];
    int ndlg;
    /* Jobs. */
    JobInfo *jobs;
    char jobs_sel[37];          /* the job selected in the jobs pane, kept across refreshes */
    size_t njobs;
    UiTracked *tracked;
    size_t ntracked, tracked_cap;
    int quit_pending;           /* quit once running jobs end */
    int interrupted_told;       /* the start-up note about interrupted operations */
    int *host_state;            /* as last seen, to announce changes */
    /* Table columns: the cells each needs, measured over all rows when
     * they change in number or get all their records, else at most every
     * 2 s (2,000 rows are not measured on every repaint). */
    int col_need[VIEW_NCOLS];
    int64_t col_need_ms;
    size_t col_need_rows;
    int col_need_whole;         /* every record was read when measured */
    size_t detail_host;         /* the VM whose details were asked for last */
    char detail_uuid[37];
    char detail_job[37];        /* its newest finished job as last seen, or "" */
} Console;

#define UI_MIN_COLS 60
#define UI_MIN_ROWS 15

/* Lines of text with a role each; a line may carry a progress bar. */
typedef struct {
    char **text;
    UiRole *role;
    int *bar;                   /* percent for a progress line, -1 otherwise */
    size_t n, cap, rcap, bcap;
} UiLines;

/* paint.c: primitives; they call no other part. */
void ui_lines_push(UiLines *l, UiRole role, int bar, const char *s);
void ui_lines_pushf(UiLines *l, UiRole role, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Adds text wrapped to width, each line indented by indent spaces. */
void ui_lines_wrap(UiLines *l, UiRole role, const char *text, int width, int indent);
/* Adds text wrapped to width: the first line as is, the next ones indented
 * by its leading blanks plus indent (a hanging indent). */
void ui_lines_hang(UiLines *l, UiRole role, const char *text, int width, int indent);
void ui_lines_clear(UiLines *l);
/* Draws lines [scroll, scroll + h) at (y, x), w cells wide. */
void ui_lines_draw(const Console *c, const UiLines *l, int y, int x, int h, int w, int scroll);
void ui_theme_init(Console *c);
attr_t ui_attr(const Console *c, UiRole r);
/* Display width of s in cells. */
int ui_width(const char *s);
/* Draws s at (y, x) in at most w cells (cut with an ellipsis when it does
 * not fit); pads to w when pad.  Returns the cells drawn. */
int ui_text(const Console *c, int y, int x, int w, const char *s, attr_t a, int pad);
/* Splits text into lines of at most width cells at spaces; returns the
 * number of lines; *out gets them (free with ui_lines_free). */
size_t ui_wrap(const char *text, int width, char ***out);
void ui_lines_free(char **v, size_t n);
void ui_box(const Console *c, int y, int x, int h, int w, attr_t a);
/* A progress bar of w cells. */
void ui_bar(const Console *c, int y, int x, int w, int percent);
void ui_hline(const Console *c, int y, int x, int w, attr_t a);
/* "1:05", "12s" style. */
void ui_fmt_elapsed(int64_t ms, char *buf, size_t size);

/* draw.c: the layout and the one place that repaints. */
void ui_layout(Console *c);
void ui_repaint(Console *c, unsigned dirty);

/* msg.c: the message line. */
/* Sets the message line.  A warning (UI_R_CRIT, UI_R_ERROR) is never
 * replaced before a key was pressed: later ones wait in a queue. */
void ui_set_msg(Console *c, UiRole role, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A key was pressed: the message was seen; the next queued one shows. */
void ui_msg_seen(Console *c);
void ui_draw_msgline(Console *c);

/* table.c */
void ui_draw_header(Console *c);
void ui_draw_table(Console *c);
/* Tells the model which rows are on screen. */
void ui_table_priority(Console *c);

/* detail.c */
void ui_draw_detail(Console *c);

/* jobs.c */
void ui_jobs_refresh(Console *c);
/* Running jobs on the host (of every drover process), as last read. */
size_t ui_jobs_running(const Console *c);
/* The job selected in the jobs pane, or NULL when there is none. */
const JobInfo *ui_jobs_selected(Console *c);
void ui_jobs_track(Console *c, const char *id);
const JobInfo *ui_job_find(const Console *c, const char *id);
/* The newest job for this VM (the host's URI and the UUID) that ran, or
 * NULL: a refused attempt never is a VM's last job. */
const JobInfo *ui_job_for_vm(const Console *c, size_t host, const char *uuid);
/* The newest refused attempt on this VM since its job last (NULL: since
 * ever), or NULL. */
const JobInfo *ui_refusal_for_vm(const Console *c, size_t host, const char *uuid, const JobInfo *last);
/* What is running on the row's VM now, as text (malloc'd), or NULL: a job
 * of this console, or another process holding the VM's lock. */
char *ui_row_busy(const Console *c, const ModelRow *r);
/* The decoded result of a finished job as text (paragraphs split by "\n"). */
char *ui_job_result_text(const JobInfo *ji);
/* True for a refusal that means "the plan is no longer what you saw". */
int ui_job_plan_changed(const JobInfo *ji);
void ui_draw_jobs(Console *c);
void ui_draw_jobline(Console *c);

/* dialog.c */
Dialog *ui_dialog_new(DlgKind kind);
void ui_dialog_free(Dialog *d);
void ui_dialog_push(Console *c, Dialog *d);
void ui_dialog_pop(Console *c);
Dialog *ui_dialog_top(const Console *c);
unsigned ui_dialog_key(Console *c, int key, int is_key_code);
/* What the operator types to confirm d. */
const char *ui_expected(const Console *c, const Dialog *d);
/* A reason is asked (require_reason, or an override of the guard). */
int ui_needs_reason(const Console *c, const Dialog *d);
/* The input confirms d's plan. */
int ui_confirmed(const Console *c, const Dialog *d);
/* dialog-draw.c */
void ui_draw_dialog(Console *c, Dialog *d);
/* A failover refused by the split-brain guard: F may override it. */
int ui_can_force(const Dialog *d);
/* Starts the dialog for op on the selected row. */
unsigned ui_dialog_start(Console *c, int op);
/* A console action op (StateOp or UI_OP_REPAIR) on a VM refused before any
 * job ran, e saying why: audited and listed with the jobs (ops_refused). */
void ui_refusal_note(Console *c, int op, size_t host, const char *uuid, const char *vm, const char *hostname,
                     const char *reason, const char *digest, const ErrInfo *e);
/* The model has news for dialogs waiting on a plan or a record. */
unsigned ui_dialog_model(Console *c, unsigned changes);
/* Jobs changed: progress dialogs follow them. */
unsigned ui_dialog_jobs(Console *c);
void ui_message(Console *c, UiRole role, const char *title, const char *text);

/* rules.c: what the selected row allows. */
/* The ReplJobOp of a replication op (UI_OP_REPLICATE ...), or -1. */
int ui_op_repl(int op);
/* The operation's title ("Revert failover", "Replicate now") and its
 * name for the decoder ("revert", "replicate"). */
const char *ui_op_title(int op);
const char *ui_op_name(int op);
/* True when f offers planned or unplanned on r: drover replicates it
 * and its record names the primary's URI. */
int ui_offers_planned(const ModelRow *r);
/* The replica of a test system's row, or NULL. */
const ModelRow *ui_test_replica(const Console *c, const ModelRow *r);
/* The row op acts on: T on a test system acts on its replica. */
const ModelRow *ui_op_row(const Console *c, const ModelRow *r, int op);
/* 0 when op may start on r; else -1 with why (a result code and a
 * sentence) — refusals that need no choice, known before any picker. */
int ui_op_refusal(const Console *c, const ModelRow *r, int op, ErrInfo *why);
/* The keys that act on the row, "r revert" SEP "c commit" (malloc'd). */
char *ui_op_keys(const Console *c, const ModelRow *r, const char *sep);
/* The key hint for the selected row: only the keys that act on it
 * (malloc'd). */
char *ui_op_hint(const Console *c, const ModelRow *r);

/* keys.c */
unsigned ui_key(Console *c, int key, int is_key_code);
/* q or Ctrl-C: quits, or asks first while jobs run. */
unsigned ui_quit_request(Console *c);
/* The help text built from the key table: key lines are "  KEYS * help"
 * with the keys padded to UI_HELP_KEYS cells. */
#define UI_HELP_KEYS 9
char *ui_help_text(const Console *c);

#endif
