// A one-line JSON object built field by field, for metrics lines and small result files:
//   lra_json j;  lra_json_begin(&j);
//   lra_json_int(&j, "step", 5);  lra_json_str(&j, "split", "train");  lra_json_num(&j, "loss", "%.6f", x);
//   fputs(lra_json_end(&j), f);    -> {"step": 5, "split": "train", "loss": 0.693147}
// Keys are plain identifiers; string values are escaped.  A line longer than the buffer is cut and
// still closed (the fields are short numbers and names, so this does not happen in practice).
#ifndef LRA_CORE_JSON_H
#define LRA_CORE_JSON_H

#include <stddef.h>

typedef struct {
    char buf[2048];
    size_t len;
    int fields;
} lra_json;

void lra_json_begin(lra_json *j);
void lra_json_int(lra_json *j, const char *key, long long v);
void lra_json_uint(lra_json *j, const char *key, unsigned long long v);
// fmt is a printf format for one double ("%.6f", "%.6e", "%.1f"); non-finite values are written as null.
void lra_json_num(lra_json *j, const char *key, const char *fmt, double v);
void lra_json_str(lra_json *j, const char *key, const char *v);
void lra_json_bool(lra_json *j, const char *key, int v);
// Closes the object and returns the text (valid while j lives).
const char *lra_json_end(lra_json *j);
// Closes the object with `fields` appended verbatim (pre-formatted `"key": value` pairs, e.g. arrays
// longer than the buffer) and returns it as a new string (malloc'd, never cut).
char *lra_json_end_with(lra_json *j, const char *fields);

#endif
