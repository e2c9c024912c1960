/* Compiled kernels of dedupe's per-article work: the same results as the Python and numpy code
 * they stand in for (dedupe/speedups.py picks them; tests/test_speedups.py compares the two).
 *
 *   tokens(text)                       the matching tokens of an already casefolded text (short ones of
 *                                      one-byte text handed out again from a small cache of strings)
 *   token_texts(texts)                 each text's tokens (casefolded) joined with \x1f as UTF-8 bytes, and
 *                                      how many: a paragraph's tokens as the kernels below take them
 *   paragraph_shingles(paras, words)   each (joined) paragraph's sorted distinct word n-gram hashes
 *   signatures(hashes, counts, a, b, out)   MinHash rows, datasketch's affine32 scheme
 *   shingle_sets(tokens, max_n)        a paragraph's 64-bit n-gram hashes, n = 1..max_n, and its longest
 *   may_repeat(paragraphs, size, rate, slack)   dedupe.document._Article.may_repeat (joined paragraphs)
 *   cluster(order, paragraphs, keys, truncated, skip, rules)   dedupe.document._cluster (joined paragraphs)
 *   shared_count(a, b)                 how many values two sorted runs of distinct uint32 share
 *   lines_layout(text)                 dedupe.segment's one-paragraph-a-line split, and its line pairs
 *   find_char, char_positions          where a text holds characters of a set (dedupe.clean's scans)
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- xxh32 (Yann Collet's xxHash, 32-bit, seed 0): what xxhash.xxh32_intdigest gives ---- */

#define P32_1 0x9E3779B1U
#define P32_2 0x85EBCA77U
#define P32_3 0xC2B2AE3DU
#define P32_4 0x27D4EB2FU
#define P32_5 0x165667B1U

static inline uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

static inline uint32_t read32(const unsigned char *p) {
    /* little-endian whatever the machine */
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint32_t round32(uint32_t acc, uint32_t input) {
    return rotl32(acc + input * P32_2, 13) * P32_1;
}

static uint32_t xxh32(const unsigned char *p, size_t len) {
    const unsigned char *end = p + len;
    uint32_t h;
    if (len >= 16) {
        const unsigned char *limit = end - 16;
        uint32_t v1 = P32_1 + P32_2, v2 = P32_2, v3 = 0, v4 = 0 - P32_1;
        do {
            v1 = round32(v1, read32(p));
            v2 = round32(v2, read32(p + 4));
            v3 = round32(v3, read32(p + 8));
            v4 = round32(v4, read32(p + 12));
            p += 16;
        } while (p <= limit);
        h = rotl32(v1, 1) + rotl32(v2, 7) + rotl32(v3, 12) + rotl32(v4, 18);
    } else {
        h = P32_5;
    }
    h += (uint32_t)len;
    while (p + 4 <= end) {
        h = rotl32(h + read32(p) * P32_3, 17) * P32_4;
        p += 4;
    }
    while (p < end) {
        h = rotl32(h + (*p) * P32_5, 11) * P32_1;
        p++;
    }
    h ^= h >> 15;
    h *= P32_2;
    h ^= h >> 13;
    h *= P32_3;
    h ^= h >> 16;
    return h;
}

/* ---- xxh64 (seed 0): what xxhash.xxh64_intdigest gives ---- */

#define P64_1 0x9E3779B185EBCA87ULL
#define P64_2 0xC2B2AE3D27D4EB4FULL
#define P64_3 0x165667B19E3779F9ULL
#define P64_4 0x85EBCA77C2B2AE63ULL
#define P64_5 0x27D4EB2F165667C5ULL

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t read64(const unsigned char *p) {
    return (uint64_t)read32(p) | ((uint64_t)read32(p + 4) << 32);
}

static inline uint64_t round64(uint64_t acc, uint64_t input) {
    return rotl64(acc + input * P64_2, 31) * P64_1;
}

static inline uint64_t merge64(uint64_t acc, uint64_t v) {
    acc ^= round64(0, v);
    return acc * P64_1 + P64_4;
}

static uint64_t xxh64(const unsigned char *p, size_t len) {
    const unsigned char *end = p + len;
    uint64_t h;
    if (len >= 32) {
        const unsigned char *limit = end - 32;
        uint64_t v1 = P64_1 + P64_2, v2 = P64_2, v3 = 0, v4 = 0 - P64_1;
        do {
            v1 = round64(v1, read64(p));
            v2 = round64(v2, read64(p + 8));
            v3 = round64(v3, read64(p + 16));
            v4 = round64(v4, read64(p + 24));
            p += 32;
        } while (p <= limit);
        h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
        h = merge64(h, v1);
        h = merge64(h, v2);
        h = merge64(h, v3);
        h = merge64(h, v4);
    } else {
        h = P64_5;
    }
    h += (uint64_t)len;
    while (p + 8 <= end) {
        h ^= round64(0, read64(p));
        h = rotl64(h, 27) * P64_1 + P64_4;
        p += 8;
    }
    if (p + 4 <= end) {
        h ^= (uint64_t)read32(p) * P64_1;
        h = rotl64(h, 23) * P64_2 + P64_3;
        p += 4;
    }
    while (p < end) {
        h ^= (*p) * P64_5;
        h = rotl64(h, 11) * P64_1;
        p++;
    }
    h ^= h >> 33;
    h *= P64_2;
    h ^= h >> 29;
    h *= P64_3;
    h ^= h >> 32;
    return h;
}

/* ---- sorting, comparisons inlined (qsort calls a function for each) ---- */

/* Introsort: quicksort (Hoare's partition around a median of three, the smaller side first so the
 * stack stays shallow) that turns to heapsort past a depth of 2·log2(n), so no order of hashes a
 * text could be made of takes quadratic time; insertion sort below 16 values. */
#define DEFINE_SORT(NAME, T)                                                                          \
    static void NAME##_sift(T *v, Py_ssize_t root, Py_ssize_t end) {                                 \
        for (Py_ssize_t child; (child = 2 * root + 1) < end; root = child) {                          \
            if (child + 1 < end && v[child] < v[child + 1])                                           \
                child++;                                                                              \
            if (!(v[root] < v[child]))                                                                \
                return;                                                                               \
            T t = v[root];                                                                            \
            v[root] = v[child];                                                                       \
            v[child] = t;                                                                             \
        }                                                                                             \
    }                                                                                                 \
    static void NAME##_heap(T *v, Py_ssize_t n) {                                                     \
        for (Py_ssize_t i = n / 2 - 1; i >= 0; i--)                                                   \
            NAME##_sift(v, i, n);                                                                     \
        for (Py_ssize_t end = n - 1; end > 0; end--) {                                                \
            T t = v[0];                                                                               \
            v[0] = v[end];                                                                            \
            v[end] = t;                                                                               \
            NAME##_sift(v, 0, end);                                                               \
        }                                                                                             \
    }                                                                                                 \
    static void NAME##_depth(T *v, Py_ssize_t n, int depth) {                                         \
        while (n > 16) {                                                                              \
            if (depth-- <= 0) {                                                                       \
                NAME##_heap(v, n);                                                                    \
                return;                                                                               \
            }                                                                                         \
            T a = v[0], b = v[n / 2], c = v[n - 1];                                                   \
            T pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));          \
            Py_ssize_t i = -1, j = n;                                                                 \
            for (;;) {                                                                                \
                do                                                                                    \
                    i++;                                                                              \
                while (v[i] < pivot);                                                                 \
                do                                                                                    \
                    j--;                                                                              \
                while (v[j] > pivot);                                                                 \
                if (i >= j)                                                                           \
                    break;                                                                            \
                T t = v[i];                                                                           \
                v[i] = v[j];                                                                          \
                v[j] = t;                                                                             \
            }                                                                                         \
            if (j + 1 < n - j - 1) {                                                                  \
                NAME##_depth(v, j + 1, depth);                                                        \
                v += j + 1;                                                                           \
                n -= j + 1;                                                                           \
            } else {                                                                                  \
                NAME##_depth(v + j + 1, n - j - 1, depth);                                            \
                n = j + 1;                                                                            \
            }                                                                                         \
        }                                                                                             \
        for (Py_ssize_t i = 1; i < n; i++) {                                                          \
            T x = v[i];                                                                               \
            Py_ssize_t j = i;                                                                         \
            for (; j > 0 && v[j - 1] > x; j--)                                                        \
                v[j] = v[j - 1];                                                                      \
            v[j] = x;                                                                                 \
        }                                                                                             \
    }                                                                                                 \
    static void NAME(T *v, Py_ssize_t n) {                                                            \
        int depth = 0;                                                                                \
        for (Py_ssize_t m = n; m > 1; m >>= 1)                                                        \
            depth += 2;                                                                               \
        NAME##_depth(v, n, depth);                                                                    \
    }

DEFINE_SORT(sort_u32, uint32_t)
DEFINE_SORT(sort_u64, uint64_t)

/* LSD radix sort a byte at a time (tmp: room for n more), for n of RADIX_FROM or more, where it outruns
 * the introsort (hashes are random: a quicksort mispredicts half its comparisons). The counts of every
 * byte are taken in one pass; a byte that all the values share is skipped. */
#define RADIX_FROM 32
#define DEFINE_RADIX(NAME, T)                                                                         \
    static void NAME(T *v, Py_ssize_t n, T *tmp) {                                                    \
        Py_ssize_t counts[sizeof(T)][256];                                                            \
        memset(counts, 0, sizeof counts);                                                             \
        for (Py_ssize_t i = 0; i < n; i++)                                                            \
            for (size_t d = 0; d < sizeof(T); d++)                                                    \
                counts[d][(v[i] >> (8 * d)) & 0xFF]++;                                                \
        T *from = v, *to = tmp;                                                                       \
        for (size_t d = 0; d < sizeof(T); d++) {                                                      \
            Py_ssize_t *c = counts[d], at = 0;                                                        \
            int shift = 8 * (int)d;                                                                   \
            if (c[(from[0] >> shift) & 0xFF] == n)                                                    \
                continue; /* one bucket holds them all: the order stands */                           \
            for (int b = 0; b < 256; b++) {                                                           \
                Py_ssize_t k = c[b];                                                                  \
                c[b] = at;                                                                            \
                at += k;                                                                              \
            }                                                                                         \
            for (Py_ssize_t i = 0; i < n; i++) {                                                      \
                T x = from[i];                                                                        \
                to[c[(x >> shift) & 0xFF]++] = x;                                                     \
            }                                                                                         \
            T *t = from;                                                                              \
            from = to;                                                                                \
            to = t;                                                                                   \
        }                                                                                             \
        if (from != v)                                                                                \
            memcpy(v, from, (size_t)n * sizeof(T));                                                   \
    }

DEFINE_RADIX(radix_sort_u32, uint32_t)
DEFINE_RADIX(radix_sort_u64, uint64_t)
#define RADIX64_FROM 64 /* eight passes: worth it from more values than four */

/* How many values two ascending runs of distinct values share: a merge. */
#define DEFINE_SHARED(NAME, T)                                                                        \
    static Py_ssize_t NAME(const T *x, Py_ssize_t n, const T *y, Py_ssize_t m) {                      \
        Py_ssize_t i = 0, j = 0, shared = 0;                                                          \
        while (i < n && j < m) {                                                                      \
            T a = x[i], b = y[j];                                                                     \
            shared += a == b;                                                                         \
            i += a <= b;                                                                              \
            j += b <= a;                                                                              \
        }                                                                                             \
        return shared;                                                                                \
    }

DEFINE_SHARED(shared_u32, uint32_t)
DEFINE_SHARED(shared_u64, uint64_t)
DEFINE_SORT(sort_ssize, Py_ssize_t)

/* The tokens of a list as a borrowed array (NULL for none) and their count; -1 with an exception set
 * where they are not a list of str. */
static int token_items(PyObject *toks, PyObject ***items, Py_ssize_t *n) {
    if (!PyList_Check(toks) && !PyTuple_Check(toks)) {
        PyErr_SetString(PyExc_TypeError, "tokens must be a list of str");
        return -1;
    }
    *n = PySequence_Fast_GET_SIZE(toks);
    *items = PySequence_Fast_ITEMS(toks);
    for (Py_ssize_t k = 0; k < *n; k++) {
        if (!PyUnicode_Check((*items)[k])) {
            PyErr_SetString(PyExc_TypeError, "tokens must be a list of str");
            return -1;
        }
    }
    return 0;
}

/* ---- tokens: re.findall("[CJK]|[^\W_CJK]+", text) ---- */

static inline int is_cjk(Py_UCS4 c) {
    /* dedupe.segment.CJK: kana, Han, compatibility ideographs, hangul, Han extensions */
    return (c >= 0x3040 && c <= 0x30FF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xAC00 && c <= 0xD7AF) || (c >= 0x20000 && c <= 0x2FA1F);
}

static inline int is_word(Py_UCS4 c) {
    /* re's \w on str is Py_UNICODE_ISALNUM or '_'; '_' is left out here */
    if (c < 128)
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    return Py_UNICODE_ISALNUM(c);
}

/* Append a new reference to list and give it up; NULL (an error already set) gives -1. */
static int append_new(PyObject *list, PyObject *item) {
    if (item == NULL)
        return -1;
    int err = PyList_Append(list, item);
    Py_DECREF(item);
    return err;
}

/* Short tokens of one-byte strings recur ("the", "of", "said"): the last string made for each of
 * TOKEN_SLOTS hash slots is kept and handed out again when the same characters come back, instead
 * of a new one (an equal str: the same characters, and one-byte characters make the same kind). */
#define TOKEN_SLOTS 4096
#define TOKEN_CACHED_CHARS 12
static PyObject *token_slots[TOKEN_SLOTS];

/* The str of the n one-byte characters at s: the cache's for a short token (or a new one it keeps). */
static PyObject *one_byte_token(const Py_UCS1 *s, Py_ssize_t n) {
    if (n > TOKEN_CACHED_CHARS)
        return PyUnicode_FromKindAndData(PyUnicode_1BYTE_KIND, s, n);
    uint32_t h = 2166136261u; /* FNV-1a */
    for (Py_ssize_t k = 0; k < n; k++)
        h = (h ^ s[k]) * 16777619u;
    PyObject **slot = &token_slots[h & (TOKEN_SLOTS - 1)];
    PyObject *seen = *slot;
    if (seen != NULL && PyUnicode_GET_LENGTH(seen) == n && PyUnicode_KIND(seen) == PyUnicode_1BYTE_KIND &&
        memcmp(PyUnicode_1BYTE_DATA(seen), s, (size_t)n) == 0) {
        Py_INCREF(seen);
        return seen;
    }
    PyObject *tok = PyUnicode_FromKindAndData(PyUnicode_1BYTE_KIND, s, n);
    if (tok == NULL)
        return NULL;
    Py_INCREF(tok);
    Py_XSETREF(*slot, tok);
    return tok;
}

static PyObject *token_string(PyObject *text, Py_ssize_t start, Py_ssize_t stop) {
    if (PyUnicode_KIND(text) != PyUnicode_1BYTE_KIND)
        return PyUnicode_Substring(text, start, stop);
    return one_byte_token(PyUnicode_1BYTE_DATA(text) + start, stop - start);
}

static int append_token(PyObject *list, PyObject *text, Py_ssize_t start, Py_ssize_t stop) {
    return append_new(list, token_string(text, start, stop));
}

/* 0 when text is a str ready to be read, else -1 with an exception set naming the function. */
static int ready_str(PyObject *text, const char *function) {
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "%s() takes a str", function);
        return -1;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0) /* a legacy string made through the old C API */
        return -1;
#endif
    return 0;
}

static PyObject *split_tokens(PyObject *text);

static inline int is_ascii_word(unsigned char c) {
    return (unsigned)((c | 32) - 'a') < 26 || (unsigned)(c - '0') < 10;
}

static PyObject *tokens(PyObject *self, PyObject *text) {
    if (ready_str(text, "tokens") < 0)
        return NULL;
    return split_tokens(text);
}

static PyObject *split_tokens(PyObject *text) {
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), i = 0;
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    while (i < n) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (kind != PyUnicode_1BYTE_KIND && is_cjk(c)) {
            if (append_token(out, text, i, i + 1) < 0)
                goto fail;
            i++;
        } else if (is_word(c)) {
            Py_ssize_t j = i + 1;
            while (j < n) {
                Py_UCS4 d = PyUnicode_READ(kind, data, j);
                if (!is_word(d) || (kind != PyUnicode_1BYTE_KIND && is_cjk(d)))
                    break;
                j++;
            }
            if (append_token(out, text, i, j) < 0)
                goto fail;
            i = j;
        } else {
            i++;
        }
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* ---- token_texts: each text's tokens as one bytes object ----
 *
 * A paragraph's tokens (tokens() of its casefolded text) joined with 0x1F, in UTF-8: what text_key hashes. The
 * run compares paragraphs' tokens as these bytes and the kernels below cut them back into tokens, so
 * no str object is made for each of a run's tokens. */

typedef struct {
    unsigned char *buf;
    Py_ssize_t len, cap;
} Buf;

/* Room for `more` bytes past b->len; -1 with MemoryError set when there is none. */
static int buf_room(Buf *b, Py_ssize_t more) {
    if (b->len + more <= b->cap)
        return 0;
    Py_ssize_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more)
        cap *= 2;
    unsigned char *grown = PyMem_Realloc(b->buf, (size_t)cap);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->buf = grown;
    b->cap = cap;
    return 0;
}

/* c in UTF-8 at the end of b (room for 4 bytes is the caller's). */
static inline void put_utf8(Buf *b, Py_UCS4 c) {
    unsigned char *o = b->buf + b->len;
    if (c < 0x80) {
        o[0] = (unsigned char)c;
        b->len += 1;
    } else if (c < 0x800) {
        o[0] = (unsigned char)(0xC0 | (c >> 6));
        o[1] = (unsigned char)(0x80 | (c & 0x3F));
        b->len += 2;
    } else if (c < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (c >> 12));
        o[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (c & 0x3F));
        b->len += 3;
    } else {
        o[0] = (unsigned char)(0xF0 | (c >> 18));
        o[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
        o[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        o[3] = (unsigned char)(0x80 | (c & 0x3F));
        b->len += 4;
    }
}

/* The tokens of an ASCII text, lower-cased as they are copied (for ASCII, casefold is lower: no folded
 * copy of the text), joined into b; how many (-1: no memory). */
static Py_ssize_t ascii_joined(PyObject *text, Buf *b) {
    const unsigned char *chars = PyUnicode_1BYTE_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), i = 0, count = 0;
    b->len = 0;
    if (buf_room(b, n) < 0)
        return -1;
    unsigned char *o = b->buf;
    Py_ssize_t at = 0;
    while (i < n) {
        if (!is_ascii_word(chars[i])) {
            i++;
            continue;
        }
        if (count++)
            o[at++] = 0x1F; /* in place of the non-word character before the token: room enough */
        for (; i < n && is_ascii_word(chars[i]); i++)
            o[at++] = (unsigned char)(chars[i] >= 'A' && chars[i] <= 'Z' ? chars[i] + 32 : chars[i]);
    }
    b->len = at;
    return count;
}

/* The tokens of a casefolded text (split_tokens' tokens), joined into b; how many (-1: no memory). */
static Py_ssize_t wide_joined(PyObject *text, Buf *b) {
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), i = 0, count = 0;
    b->len = 0;
    if (buf_room(b, 5 * n) < 0) /* 4 bytes a character at most, and a separator before each CJK one */
        return -1;
    while (i < n) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (kind != PyUnicode_1BYTE_KIND && is_cjk(c)) {
            if (count++)
                b->buf[b->len++] = 0x1F;
            put_utf8(b, c);
            i++;
        } else if (is_word(c)) {
            if (count++)
                b->buf[b->len++] = 0x1F;
            for (; i < n; i++) {
                Py_UCS4 d = PyUnicode_READ(kind, data, i);
                if (!is_word(d) || (kind != PyUnicode_1BYTE_KIND && is_cjk(d)))
                    break;
                put_utf8(b, d);
            }
        } else {
            i++;
        }
    }
    return count;
}

/* (texts) -> (each text's tokens joined with 0x1F as bytes, how many tokens each has). */
static PyObject *token_texts(PyObject *self, PyObject *texts) {
    if (!PyList_Check(texts) && !PyTuple_Check(texts)) {
        PyErr_SetString(PyExc_TypeError, "token_texts() takes a list or tuple of str");
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(texts);
    PyObject *out = PyList_New(n), *counts = PyList_New(n);
    Buf b = {NULL, 0, 0};
    for (Py_ssize_t k = 0; out != NULL && counts != NULL && k < n; k++) {
        PyObject *text = PySequence_Fast_GET_ITEM(texts, k), *joined = NULL, *count_obj = NULL;
        Py_ssize_t count = -1;
        if (ready_str(text, "token_texts") == 0) {
            if (PyUnicode_IS_ASCII(text)) {
                count = ascii_joined(text, &b);
            } else {
                PyObject *folded = PyObject_CallMethod(text, "casefold", NULL);
                if (folded != NULL && ready_str(folded, "token_texts") == 0)
                    count = wide_joined(folded, &b);
                Py_XDECREF(folded);
            }
        }
        if (count >= 0) {
            joined = PyBytes_FromStringAndSize((const char *)b.buf, b.len);
            count_obj = joined ? PyLong_FromSsize_t(count) : NULL;
        }
        if (count_obj == NULL) {
            Py_XDECREF(joined);
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, k, joined);
        PyList_SET_ITEM(counts, k, count_obj);
    }
    PyMem_Free(b.buf);
    if (out == NULL || counts == NULL) {
        Py_XDECREF(out);
        Py_XDECREF(counts);
        return NULL;
    }
    return Py_BuildValue("(NN)", out, counts);
}

/* A token of a joined paragraph: where its UTF-8 starts in the bytes, and how long it is. */
typedef struct {
    const unsigned char *p;
    Py_ssize_t n;
} Span;

/* A quick hash of a token, to screen words before they are compared byte by byte: its first and
 * last bytes and its length (what lies between does not count; equal hashes are only candidates). */
static inline uint64_t span_hash(const Span *t) {
    const unsigned char *p = t->p;
    Py_ssize_t n = t->n;
    uint64_t a = 0, b = 0;
    if (n >= 8) {
        a = read64(p);
        b = read64(p + n - 8);
    } else if (n >= 4) {
        a = read32(p);
        b = read32(p + n - 4);
    } else if (n > 0) {
        a = (uint64_t)p[0] | (uint64_t)p[n >> 1] << 8 | (uint64_t)p[n - 1] << 16;
    }
    uint64_t h = a * 0x9E3779B97F4A7C15ULL ^ (b + (uint64_t)n) * 0xC2B2AE3D27D4EB4FULL;
    return h ^ (h >> 31);
}

static inline int span_equal(const Span *a, const Span *b) {
    return a->n == b->n && (a->p == b->p || memcmp(a->p, b->p, (size_t)a->n) == 0);
}

/* The tokens of the joined paragraphs of a list, one after another: *spans (PyMem, to free), where
 * each paragraph's start (*first, n + 1 of them), and the list's length; -1 with an exception set
 * (TypeError for a paragraph that is not bytes). One pass over the bytes, a byte at a time: tokens
 * are a few bytes long, shorter than a call of memchr pays for. */
static Py_ssize_t list_spans(PyObject *paras, Span **spans, Py_ssize_t **first) {
    Py_ssize_t n = PySequence_Fast_GET_SIZE(paras), room = 0, total = 0;
    *spans = NULL;
    *first = PyMem_Malloc((size_t)(n + 1) * sizeof(Py_ssize_t));
    if (*first == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t p = 0; p < n; p++) {
        PyObject *joined = PySequence_Fast_GET_ITEM(paras, p);
        if (!PyBytes_Check(joined)) {
            PyErr_SetString(PyExc_TypeError, "each paragraph must be bytes: its tokens joined with \\x1f");
            goto fail;
        }
        room += PyBytes_GET_SIZE(joined) + 1; /* a token more than separators, whatever the bytes */
    }
    *spans = PyMem_Malloc((size_t)room * sizeof(Span));
    if (*spans == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    Span *out = *spans;
    for (Py_ssize_t p = 0; p < n; p++) {
        PyObject *joined = PySequence_Fast_GET_ITEM(paras, p);
        const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(joined);
        Py_ssize_t len = PyBytes_GET_SIZE(joined), start = 0;
        (*first)[p] = total;
        if (len == 0)
            continue;
        for (Py_ssize_t i = 0; i < len; i++) {
            if (s[i] == 0x1F) {
                out[total].p = s + start;
                out[total++].n = i - start;
                start = i + 1;
            }
        }
        out[total].p = s + start;
        out[total++].n = len - start;
    }
    (*first)[n] = total;
    return n;
fail:
    PyMem_Free(*first);
    *first = NULL;
    return -1;
}

/* ---- paragraph_shingles: dedupe.minhash.paragraph_shingles ---- */

#define FOLD 0x01000193U

static PyObject *paragraph_shingles(PyObject *self, PyObject *args) {
    PyObject *given, *paras = NULL, *hashes = NULL, *sizes = NULL;
    int words;
    uint32_t *wh = NULL;
    Span *spans = NULL;
    Py_ssize_t *first = NULL;
    if (!PyArg_ParseTuple(args, "Oi", &given, &words))
        return NULL;
    if (words < 1) {
        PyErr_SetString(PyExc_ValueError, "words must be at least 1");
        return NULL;
    }
    paras = PySequence_Fast(given, "paragraphs must be a list of joined tokens (bytes)");
    if (paras == NULL)
        return NULL;
    Py_ssize_t n = list_spans(paras, &spans, &first), longest = 0;
    if (n < 0)
        goto fail;
    for (Py_ssize_t p = 0; p < n; p++)
        if (first[p + 1] - first[p] > longest)
            longest = first[p + 1] - first[p];
    hashes = PyByteArray_FromStringAndSize(NULL, first[n] * 4);
    sizes = PyByteArray_FromStringAndSize(NULL, n * 8);
    wh = PyMem_Malloc((longest ? longest : 1) * sizeof(uint32_t));
    if (hashes == NULL || sizes == NULL || wh == NULL) {
        if (wh == NULL)
            PyErr_NoMemory();
        goto fail;
    }
    uint32_t *dst = (uint32_t *)PyByteArray_AS_STRING(hashes), *start = dst;
    int64_t *size = (int64_t *)PyByteArray_AS_STRING(sizes);
    for (Py_ssize_t p = 0; p < n; p++) {
        const Span *toks = spans + first[p];
        Py_ssize_t len = first[p + 1] - first[p];
        size[p] = 0;
        if (len == 0)
            continue;
        for (Py_ssize_t k = 0; k < len; k++)
            wh[k] = xxh32(toks[k].p, (size_t)toks[k].n);
        Py_ssize_t span = len < words ? len : words, count = len - span + 1;
        for (Py_ssize_t s = 0; s < count; s++) {
            uint32_t h = wh[s];
            for (Py_ssize_t k = 1; k < span; k++)
                h = h * FOLD + wh[s + k];
            dst[s] = h;
        }
        if (count >= RADIX_FROM)
            radix_sort_u32(dst, count, wh); /* the words' hashes are spent: room for count */
        else
            sort_u32(dst, count);
        Py_ssize_t kept = 1;
        for (Py_ssize_t s = 1; s < count; s++)
            if (dst[s] != dst[kept - 1])
                dst[kept++] = dst[s];
        size[p] = kept;
        dst += kept;
    }
    if (PyByteArray_Resize(hashes, (dst - start) * 4) < 0)
        goto fail;
    PyMem_Free(wh);
    PyMem_Free(spans);
    PyMem_Free(first);
    Py_DECREF(paras);
    return Py_BuildValue("(NN)", hashes, sizes);
fail:
    PyMem_Free(wh);
    PyMem_Free(spans);
    PyMem_Free(first);
    Py_XDECREF(hashes);
    Py_XDECREF(sizes);
    Py_DECREF(paras);
    return NULL;
}

/* ---- signatures: dedupe.minhash.signatures ---- */

static inline uint32_t fmix32(uint32_t h) {
    h ^= h >> 16;
    h *= 0x85EBCA6BU;
    h ^= h >> 13;
    h *= 0xC2B2AE35U;
    h ^= h >> 16;
    return h;
}

/* The permutations are eight to a vector where the CPU has AVX2, four times as fast as the SSE2 code every
 * x86-64 has: two versions are compiled and the loader picks one (glibc's ifunc; elsewhere, the one build). */
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define WIDE_VECTORS __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef WIDE_VECTORS
#define WIDE_VECTORS
#endif

WIDE_VECTORS
static void sign_rows(const uint32_t *restrict hashes, const int64_t *counts, Py_ssize_t rows,
                      const uint32_t *restrict a, const uint32_t *restrict b, Py_ssize_t perms,
                      uint32_t *restrict out) {
    Py_ssize_t at = 0;
    for (Py_ssize_t r = 0; r < rows; r++) {
        uint32_t *restrict sig = out + r * perms;
        for (int64_t j = 0; j < counts[r]; j++, at++) {
            uint32_t m = fmix32(hashes[at]);
            for (Py_ssize_t p = 0; p < perms; p++) {
                uint32_t v = a[p] * m + b[p];
                sig[p] = v < sig[p] ? v : sig[p];
            }
        }
    }
}

static PyObject *signatures(PyObject *self, PyObject *args) {
    Py_buffer h, c, a, b, out;
    if (!PyArg_ParseTuple(args, "y*y*y*y*w*", &h, &c, &a, &b, &out))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t perms = a.len / 4, rows = c.len / 8, total = 0;
    const int64_t *counts = (const int64_t *)c.buf;
    for (Py_ssize_t r = 0; r < rows; r++) {
        if (counts[r] < 0) {
            PyErr_SetString(PyExc_ValueError, "a negative count");
            goto done;
        }
        total += counts[r];
    }
    if (b.len != a.len || out.len != rows * perms * 4 || total * 4 > h.len) {
        PyErr_SetString(PyExc_ValueError, "signatures(): buffers of mismatched sizes");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    sign_rows((const uint32_t *)h.buf, counts, rows, (const uint32_t *)a.buf, (const uint32_t *)b.buf, perms,
              (uint32_t *)out.buf);
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&h);
    PyBuffer_Release(&c);
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    PyBuffer_Release(&out);
    return result;
}

/* ---- shingle_sets and text_key: dedupe.shingle ---- */

#define MIX 0x9E3779B97F4A7C15ULL

/* A paragraph's shingles, as shingle_sets makes them: the hashes of its word n-grams for n = 1..max_n
 * (words hashed with xxh64, an n-gram's hash folded from its (n - 1)-gram's), and of its longest
 * n-grams alone; here sorted distinct arrays. */
typedef struct {
    uint64_t *all, *top;
    Py_ssize_t n_all, n_top;
} Shingles;

/* Sorts v and keeps each value once; returns how many are left (-1: no memory, an exception set). */
static Py_ssize_t sort_distinct(uint64_t *v, Py_ssize_t n) {
    if (n == 0)
        return 0;
    if (n < RADIX64_FROM) {
        sort_u64(v, n);
    } else {
        uint64_t *tmp = PyMem_Malloc((size_t)n * sizeof(uint64_t));
        if (tmp == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        radix_sort_u64(v, n, tmp);
        PyMem_Free(tmp);
    }
    Py_ssize_t kept = 1;
    for (Py_ssize_t s = 1; s < n; s++)
        if (v[s] != v[kept - 1])
            v[kept++] = v[s];
    return kept;
}

static void shingles_free(Shingles *sh) {
    PyMem_Free(sh->all);
    PyMem_Free(sh->top);
    sh->all = sh->top = NULL;
}

/* The shingles of n tokens; -1 with an exception set on error (then nothing is held). */
static int shingles_of(const Span *items, Py_ssize_t n, int max_n, Shingles *out) {
    Py_ssize_t span = n < max_n ? n : max_n; /* the longest n-grams' length */
    if (span < 1)
        span = n ? 1 : 0;
    Py_ssize_t total = 0, count = n;
    for (Py_ssize_t k = 1; k <= span; k++)
        total += n - k + 1;
    uint64_t *words = PyMem_Malloc((n ? n : 1) * sizeof(uint64_t));
    out->all = PyMem_Malloc((total ? total : 1) * sizeof(uint64_t));
    out->top = PyMem_Malloc((n - span + 1) * sizeof(uint64_t));
    if (words == NULL || out->all == NULL || out->top == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    uint64_t *grams = out->all; /* the (size)-grams, the last written of all */
    for (Py_ssize_t k = 0; k < n; k++)
        words[k] = grams[k] = xxh64(items[k].p, (size_t)items[k].n);
    for (Py_ssize_t size = 2; size <= span; size++) {
        uint64_t *next = grams + count;
        count--;
        for (Py_ssize_t s = 0; s < count; s++)
            next[s] = (grams[s] * MIX) ^ words[s + size - 1];
        grams = next;
    }
    memcpy(out->top, grams, count * sizeof(uint64_t));
    out->n_top = sort_distinct(out->top, count);
    out->n_all = sort_distinct(out->all, total);
    if (out->n_top < 0 || out->n_all < 0)
        goto fail;
    PyMem_Free(words);
    return 0;
fail:
    PyMem_Free(words);
    shingles_free(out);
    return -1;
}

static PyObject *frozenset_of(const uint64_t *v, Py_ssize_t n) {
    PyObject *set = PyFrozenSet_New(NULL);
    for (Py_ssize_t k = 0; set != NULL && k < n; k++) {
        PyObject *x = PyLong_FromUnsignedLongLong(v[k]);
        if (x == NULL || PySet_Add(set, x) < 0)
            Py_CLEAR(set);
        Py_XDECREF(x);
    }
    return set;
}

static PyObject *shingle_sets(PyObject *self, PyObject *args) {
    PyObject *toks, **items;
    int max_n;
    Py_ssize_t n;
    Shingles sh;
    if (!PyArg_ParseTuple(args, "Oi", &toks, &max_n) || token_items(toks, &items, &n) < 0)
        return NULL;
    Span *spans = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(Span));
    if (spans == NULL)
        return PyErr_NoMemory();
    for (Py_ssize_t k = 0; k < n; k++) {
        const char *utf8 = PyUnicode_AsUTF8AndSize(items[k], &spans[k].n);
        if (utf8 == NULL) {
            PyMem_Free(spans);
            return NULL;
        }
        spans[k].p = (const unsigned char *)utf8;
    }
    int failed = shingles_of(spans, n, max_n, &sh) < 0;
    PyMem_Free(spans);
    if (failed)
        return NULL;
    PyObject *all = frozenset_of(sh.all, sh.n_all), *top = all ? frozenset_of(sh.top, sh.n_top) : NULL;
    shingles_free(&sh);
    if (top == NULL) {
        Py_XDECREF(all);
        return NULL;
    }
    return Py_BuildValue("(NN)", all, top);
}

/* ---- may_repeat: dedupe.document._Article.may_repeat ----
 *
 * Word n-grams compared as the Python code's tuples are: by their words (a hash table over the words'
 * quick hashes, span_hash, finds candidates, and equal hashes are checked word by word, byte by byte),
 * so the result is the same whatever the hashes. */

typedef struct {
    const Span *toks;   /* its first word, in the paragraph's joined tokens */
    const uint64_t *th; /* the words' hashes, from the first */
    uint64_t h;
    int k;
} Gram;

typedef struct {
    Py_ssize_t *slots; /* index into grams, -1 where empty */
    Py_ssize_t mask;
    Gram *grams;
    Py_ssize_t n;
} Table;

static int table_init(Table *t, Py_ssize_t items) {
    Py_ssize_t cap = 8;
    while (cap < 2 * items)
        cap <<= 1;
    t->slots = PyMem_Malloc(cap * sizeof(Py_ssize_t));
    t->grams = PyMem_Malloc((items ? items : 1) * sizeof(Gram));
    t->mask = cap - 1;
    t->n = 0;
    if (t->slots == NULL || t->grams == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memset(t->slots, 0xFF, cap * sizeof(Py_ssize_t));
    return 0;
}

static void table_clear(Table *t) {
    memset(t->slots, 0xFF, (t->mask + 1) * sizeof(Py_ssize_t));
    t->n = 0;
}

static void table_free(Table *t) {
    PyMem_Free(t->slots);
    PyMem_Free(t->grams);
}

static inline Gram gram(const Span *toks, const uint64_t *th, int k) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)k;
    for (int i = 0; i < k; i++) {
        h = (h ^ th[i]) * 0x100000001B3ULL;
        h ^= h >> 29;
    }
    Gram g = {toks, th, h, k};
    return g;
}

/* 1 if the two n-grams have the same words, 0 if not */
static int gram_equal(const Gram *a, const Gram *b) {
    if (a->h != b->h || a->k != b->k)
        return 0;
    for (int i = 0; i < a->k; i++)
        if (a->th[i] != b->th[i] || !span_equal(&a->toks[i], &b->toks[i]))
            return 0;
    return 1;
}

/* The index of the n-gram equal to g, added if new (*added says which). Room for it is the caller's:
 * at most the items the table was made for. */
static Py_ssize_t table_add(Table *t, const Gram *g, int *added) {
    Py_ssize_t at = (Py_ssize_t)(g->h & (uint64_t)t->mask);
    for (;;) {
        Py_ssize_t id = t->slots[at];
        if (id < 0) {
            t->grams[t->n] = *g;
            t->slots[at] = t->n;
            *added = 1;
            return t->n++;
        }
        if (gram_equal(&t->grams[id], g)) {
            *added = 0;
            return id;
        }
        at = (at + 1) & t->mask;
    }
}

/* How many distinct k-grams a paragraph of len words has (len >= k), in a cleared table. */
static Py_ssize_t distinct_grams(Table *t, const Span *toks, const uint64_t *th, Py_ssize_t len, int k) {
    int added;
    table_clear(t);
    for (Py_ssize_t s = 0; s + k <= len; s++) {
        Gram g = gram(toks + s, th + s, k);
        table_add(t, &g, &added);
    }
    return t->n;
}

static PyObject *may_repeat(PyObject *self, PyObject *args) {
    PyObject *given, *paras, *out = NULL;
    int size;
    double rate, slack;
    if (!PyArg_ParseTuple(args, "Oidd", &given, &size, &rate, &slack))
        return NULL;
    if (size < 1) {
        PyErr_SetString(PyExc_ValueError, "size must be at least 1");
        return NULL;
    }
    paras = PySequence_Fast(given, "paragraphs must be a list of joined tokens (bytes)");
    if (paras == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(paras), words = 0, positions = 0, longest = 0;
    Py_ssize_t *first_word = NULL, *first_pos = NULL, *entry = NULL, *seen_in = NULL, *counted_in = NULL,
               *paras_of = NULL;
    uint64_t *th = NULL;
    Span *spans = NULL;
    char *is_key = NULL;
    Table all = {NULL, 0, NULL, 0}, scratch = {NULL, 0, NULL, 0};
    out = PyList_New(0);
    if (out == NULL || n < 2)
        goto done;
    if (list_spans(paras, &spans, &first_word) < 0)
        goto fail;
    first_pos = PyMem_Malloc((n + 1) * sizeof(Py_ssize_t));
    if (first_pos == NULL)
        goto nomem;
    for (Py_ssize_t p = 0; p < n; p++) {
        Py_ssize_t len = first_word[p + 1] - first_word[p];
        first_pos[p] = positions;
        if (len)
            positions += len - (len < size ? len : size) + 1;
        if (len > longest)
            longest = len;
    }
    words = first_word[n];
    first_pos[n] = positions;
    th = PyMem_Malloc((words ? words : 1) * sizeof(uint64_t));
    entry = PyMem_Malloc((positions ? positions : 1) * sizeof(Py_ssize_t));
    if (th == NULL || entry == NULL)
        goto nomem;
    for (Py_ssize_t w = 0; w < words; w++)
        th[w] = span_hash(&spans[w]);
    /* every paragraph's longest n-grams; in how many paragraphs each is */
    if (table_init(&all, positions) < 0 || table_init(&scratch, longest) < 0)
        goto fail;
    seen_in = PyMem_Malloc((positions ? positions : 1) * sizeof(Py_ssize_t));
    counted_in = PyMem_Malloc((positions ? positions : 1) * sizeof(Py_ssize_t));
    paras_of = PyMem_Malloc((positions ? positions : 1) * sizeof(Py_ssize_t));
    is_key = PyMem_Calloc(positions ? positions : 1, 1);
    if (seen_in == NULL || counted_in == NULL || paras_of == NULL || is_key == NULL)
        goto nomem;
    int any_shared = 0;
    for (Py_ssize_t p = 0; p < n; p++) {
        const Span *items = spans + first_word[p];
        Py_ssize_t len = first_word[p + 1] - first_word[p];
        int k = (int)(len < size ? len : size);
        for (Py_ssize_t s = 0; s < first_pos[p + 1] - first_pos[p]; s++) {
            int added;
            Gram g = gram(items + s, th + first_word[p] + s, k);
            Py_ssize_t id = table_add(&all, &g, &added);
            if (added) {
                paras_of[id] = 1;
                seen_in[id] = p;
                counted_in[id] = -1;
            } else if (seen_in[id] != p) {
                paras_of[id]++;
                seen_in[id] = p;
                any_shared = 1;
            }
            entry[first_pos[p] + s] = id;
        }
    }
    int any_key = 0;
    for (Py_ssize_t p = 0; any_shared && p < n; p++) {
        const Span *items = spans + first_word[p];
        Py_ssize_t len = first_word[p + 1] - first_word[p], n_top = 0, found = 0;
        for (Py_ssize_t at = first_pos[p]; at < first_pos[p + 1]; at++) {
            Py_ssize_t id = entry[at];
            if (counted_in[id] != p) {
                counted_in[id] = p;
                n_top++;
                found += paras_of[id] >= 2;
            }
        }
        if (found == 0)
            continue;
        int longest_k = (int)(len < size ? len : size);
        Py_ssize_t most = n_top, n_all = n_top;
        for (int k = 1; k < longest_k; k++)
            most += len - k + 1;
        /* the same float expressions as the Python code's, in its order */
        if ((double)found < (double)n_top - (1.0 - rate) * (double)most - slack - 1e-6)
            continue;
        for (int k = 1; k < longest_k; k++) {
            n_all += distinct_grams(&scratch, items, th + first_word[p], len, k);
        }
        if ((double)found >= rate * (double)n_all - (double)(n_all - n_top) - slack) {
            for (Py_ssize_t at = first_pos[p]; at < first_pos[p + 1]; at++)
                if (paras_of[entry[at]] >= 2) {
                    is_key[entry[at]] = 1;
                    any_key = 1;
                }
        }
    }
    for (Py_ssize_t p = 0; any_key && p < n; p++) {
        for (Py_ssize_t at = first_pos[p]; at < first_pos[p + 1]; at++) {
            if (is_key[entry[at]]) {
                PyObject *i = PyLong_FromSsize_t(p);
                if (i == NULL || PyList_Append(out, i) < 0) {
                    Py_XDECREF(i);
                    goto fail;
                }
                Py_DECREF(i);
                break;
            }
        }
    }
    goto done;
nomem:
    PyErr_NoMemory();
fail:
    Py_CLEAR(out);
done:
    PyMem_Free(first_word);
    PyMem_Free(first_pos);
    PyMem_Free(spans);
    PyMem_Free(th);
    PyMem_Free(entry);
    PyMem_Free(seen_in);
    PyMem_Free(counted_in);
    PyMem_Free(paras_of);
    PyMem_Free(is_key);
    table_free(&all);
    table_free(&scratch);
    Py_DECREF(paras);
    return out;
}

/* ---- cluster: dedupe.document._cluster ----
 *
 * Each paragraph's shingles are sorted arrays here (Shingles), not sets: two paragraphs' shared
 * shingles are counted by a merge. */

static Py_ssize_t shared_count(const Shingles *a, const Shingles *b) {
    return shared_u64(a->all, a->n_all, b->all, b->n_all);
}

/* A growing array of paragraph numbers */
typedef struct {
    Py_ssize_t *v;
    Py_ssize_t n, cap;
} Vec;

static int vec_push(Vec *vec, Py_ssize_t x) {
    if (vec->n == vec->cap) {
        Py_ssize_t cap = vec->cap ? 2 * vec->cap : 4;
        Py_ssize_t *v = PyMem_Realloc(vec->v, cap * sizeof(Py_ssize_t));
        if (v == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        vec->v = v;
        vec->cap = cap;
    }
    vec->v[vec->n++] = x;
    return 0;
}

/* A map of 64-bit keys to the index of their value, open addressing; grows as it fills. */
typedef struct {
    uint64_t *keys;
    Py_ssize_t *values; /* -1: empty */
    Py_ssize_t mask, n;
} Map;

static int map_init(Map *m, Py_ssize_t items) {
    Py_ssize_t cap = 16;
    while (cap < 2 * items)
        cap <<= 1;
    m->keys = PyMem_Malloc(cap * sizeof(uint64_t));
    m->values = PyMem_Malloc(cap * sizeof(Py_ssize_t));
    m->mask = cap - 1;
    m->n = 0;
    if (m->keys == NULL || m->values == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memset(m->values, 0xFF, cap * sizeof(Py_ssize_t));
    return 0;
}

/* Keys are mixed with a seed drawn from Python's own hash secret (random per process unless
 * PYTHONHASHSEED is set), so no text can be made to pile its n-grams into one run of slots. */
static uint64_t map_seed;

static inline Py_ssize_t map_slot(const Map *m, uint64_t key) {
    uint64_t h = (key ^ map_seed) * 0x9E3779B97F4A7C15ULL;
    Py_ssize_t at = (Py_ssize_t)((h ^ (h >> 32)) & (uint64_t)m->mask);
    while (m->values[at] >= 0 && m->keys[at] != key)
        at = (at + 1) & m->mask;
    return at;
}

static Py_ssize_t map_get(const Map *m, uint64_t key) { return m->values[map_slot(m, key)]; }

static int map_put(Map *m, uint64_t key, Py_ssize_t value) {
    if (2 * (m->n + 1) > m->mask + 1) {
        Map bigger;
        if (map_init(&bigger, 2 * (m->n + 1)) < 0)
            return -1;
        for (Py_ssize_t at = 0; at <= m->mask; at++) {
            if (m->values[at] >= 0) {
                Py_ssize_t to = map_slot(&bigger, m->keys[at]);
                bigger.keys[to] = m->keys[at];
                bigger.values[to] = m->values[at];
                bigger.n++;
            }
        }
        PyMem_Free(m->keys);
        PyMem_Free(m->values);
        *m = bigger;
    }
    Py_ssize_t at = map_slot(m, key);
    if (m->values[at] < 0)
        m->n++;
    m->keys[at] = key;
    m->values[at] = value;
    return 0;
}

static void map_free(Map *m) {
    PyMem_Free(m->keys);
    PyMem_Free(m->values);
}

typedef struct {
    int size, min_words, prefix_words;
    Py_ssize_t posting_cap;
    double threshold, containment, subset_ratio;
} Rules;

/* 1 if paragraphs a and b start with the same `words` tokens (as list slices compare), 0 if not */
static int same_start(const Span *spans, const Py_ssize_t *first, Py_ssize_t a, Py_ssize_t b, int words) {
    Py_ssize_t na = first[a + 1] - first[a], nb = first[b + 1] - first[b];
    na = na < words ? na : words;
    nb = nb < words ? nb : words;
    if (na != nb)
        return 0;
    for (Py_ssize_t k = 0; k < na; k++)
        if (!span_equal(&spans[first[a] + k], &spans[first[b] + k]))
            return 0;
    return 1;
}

/* judge(i, j, inter): 0 = no match, 1 = near, 2 = containment (with *similarity) */
static int judge(const Rules *r, const Span *spans, const Py_ssize_t *first, const Shingles *sh,
                 const char *truncated, Py_ssize_t i, Py_ssize_t j, Py_ssize_t inter, double *similarity) {
    Py_ssize_t a = sh[i].n_all, b = sh[j].n_all;
    double jaccard = (double)inter / (double)(a + b - inter);
    if (jaccard >= r->threshold) {
        *similarity = jaccard;
        return 1;
    }
    Py_ssize_t len_i = first[i + 1] - first[i], len_j = first[j + 1] - first[j];
    Py_ssize_t short_ = len_i <= len_j ? i : j, long_ = short_ == i ? j : i;
    Py_ssize_t n = first[short_ + 1] - first[short_];
    if (n >= r->min_words && (double)n <= r->subset_ratio * (double)(first[long_ + 1] - first[long_])) {
        if (truncated[short_] || same_start(spans, first, short_, long_, r->prefix_words)) {
            double contained = (double)inter / (double)(a < b ? a : b);
            if (contained >= r->containment) {
                *similarity = contained;
                return 2;
            }
        }
    }
    return 0;
}

static PyObject *cluster(PyObject *self, PyObject *args) {
    PyObject *order, *toks, *keys_list, *truncated_list, *skip;
    Rules r;
    if (!PyArg_ParseTuple(args, "O!O!O!O!O(iiinddd)", &PyList_Type, &order, &PyList_Type, &toks, &PyList_Type,
                          &keys_list, &PyList_Type, &truncated_list, &skip, &r.size, &r.min_words, &r.prefix_words,
                          &r.posting_cap, &r.threshold, &r.containment, &r.subset_ratio))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(toks);
    if (PyList_GET_SIZE(keys_list) != n || PyList_GET_SIZE(truncated_list) != n || r.size < 1) {
        PyErr_SetString(PyExc_ValueError, "cluster(): paragraphs, keys and truncated differ in length");
        return NULL;
    }
    Span *spans;
    Py_ssize_t *first;
    if (list_spans(toks, &spans, &first) < 0)
        return NULL;
    PyObject *clusters = PyList_New(n), *matched = PyList_New(0);
    Shingles *sh = PyMem_Calloc(n ? n : 1, sizeof(Shingles));
    Py_ssize_t *head_of = PyMem_Malloc((n ? n : 1) * sizeof(Py_ssize_t));
    Py_ssize_t *stamp = PyMem_Malloc((n ? n : 1) * sizeof(Py_ssize_t));
    char *truncated = PyMem_Malloc(n ? n : 1);
    uint64_t *keys = PyMem_Malloc((n ? n : 1) * sizeof(uint64_t));
    Vec *postings = NULL, candidates = {NULL, 0, 0};
    Py_ssize_t n_postings = 0, cap_postings = 0;
    Map exact = {NULL, NULL, 0, 0}, posting_of = {NULL, NULL, 0, 0};
    if (clusters == NULL || matched == NULL)
        goto fail;
    if (sh == NULL || head_of == NULL || stamp == NULL || truncated == NULL || keys == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    if (map_init(&exact, 16) < 0 || map_init(&posting_of, 256) < 0)
        goto fail;
    for (Py_ssize_t p = 0; p < n; p++) {
        head_of[p] = p;
        stamp[p] = -1;
        int t = PyObject_IsTrue(PyList_GET_ITEM(truncated_list, p));
        if (t < 0)
            goto fail;
        truncated[p] = (char)t;
        keys[p] = PyLong_AsUnsignedLongLong(PyList_GET_ITEM(keys_list, p));
        if (keys[p] == (uint64_t)-1 && PyErr_Occurred())
            goto fail;
    }
    for (Py_ssize_t o = 0; o < PyList_GET_SIZE(order); o++) {
        Py_ssize_t i = PyLong_AsSsize_t(PyList_GET_ITEM(order, o));
        if (i == -1 && PyErr_Occurred())
            goto fail;
        if (i < 0 || i >= n) {
            PyErr_SetString(PyExc_IndexError, "cluster(): a paragraph number out of range");
            goto fail;
        }
        if (first[i + 1] == first[i])
            continue;
        PyObject *number = PyList_GET_ITEM(order, o);
        int skipped = PySequence_Contains(skip, number);
        if (skipped < 0)
            goto fail;
        if (skipped)
            continue;
        Py_ssize_t head = map_get(&exact, keys[i]);
        if (head >= 0) {
            head_of[i] = head;
            PyObject *m = Py_BuildValue("(nnds)", i, head, 1.0, "exact");
            if (m == NULL || PyList_Append(matched, m) < 0) {
                Py_XDECREF(m);
                goto fail;
            }
            Py_DECREF(m);
            continue;
        }
        if (shingles_of(spans + first[i], first[i + 1] - first[i], r.size, &sh[i]) < 0)
            goto fail;
        candidates.n = 0;
        for (Py_ssize_t t = 0; t < sh[i].n_top; t++) {
            Py_ssize_t at = map_get(&posting_of, sh[i].top[t]);
            if (at < 0 || postings[at].n > r.posting_cap)
                continue;
            for (Py_ssize_t h = 0; h < postings[at].n; h++) {
                Py_ssize_t c = postings[at].v[h];
                if (stamp[c] != i) {
                    stamp[c] = i;
                    if (vec_push(&candidates, c) < 0)
                        goto fail;
                }
            }
        }
        if (candidates.n > 1)
            sort_ssize(candidates.v, candidates.n);
        int best_rule = 0;
        Py_ssize_t best = -1;
        double best_similarity = 0.0;
        for (Py_ssize_t c = 0; c < candidates.n; c++) {
            Py_ssize_t h = candidates.v[c];
            double similarity;
            int rule = judge(&r, spans, first, sh, truncated, i, h, shared_count(&sh[i], &sh[h]), &similarity);
            if (rule && (best < 0 || similarity > best_similarity)) {
                best = h;
                best_rule = rule;
                best_similarity = similarity;
            }
        }
        if (best >= 0) {
            head_of[i] = best;
            PyObject *m = Py_BuildValue("(nnds)", i, best, best_similarity, best_rule == 1 ? "near" : "containment");
            if (m == NULL || PyList_Append(matched, m) < 0) {
                Py_XDECREF(m);
                goto fail;
            }
            Py_DECREF(m);
            continue;
        }
        if (map_put(&exact, keys[i], i) < 0)
            goto fail;
        for (Py_ssize_t t = 0; t < sh[i].n_top; t++) {
            Py_ssize_t at = map_get(&posting_of, sh[i].top[t]);
            if (at < 0) {
                if (n_postings == cap_postings) {
                    Py_ssize_t cap = cap_postings ? 2 * cap_postings : 64;
                    Vec *grown = PyMem_Realloc(postings, cap * sizeof(Vec));
                    if (grown == NULL) {
                        PyErr_NoMemory();
                        goto fail;
                    }
                    postings = grown;
                    cap_postings = cap;
                }
                at = n_postings++;
                postings[at].v = NULL;
                postings[at].n = postings[at].cap = 0;
                if (map_put(&posting_of, sh[i].top[t], at) < 0)
                    goto fail;
            }
            if (vec_push(&postings[at], i) < 0)
                goto fail;
        }
    }
    for (Py_ssize_t p = 0; p < n; p++) {
        PyObject *h = PyLong_FromSsize_t(head_of[p]);
        if (h == NULL)
            goto fail;
        PyList_SET_ITEM(clusters, p, h);
    }
    goto done;
fail:
    Py_CLEAR(clusters);
    Py_CLEAR(matched);
done:
    for (Py_ssize_t p = 0; sh != NULL && p < n; p++)
        shingles_free(&sh[p]);
    for (Py_ssize_t at = 0; at < n_postings; at++)
        PyMem_Free(postings[at].v);
    PyMem_Free(postings);
    PyMem_Free(candidates.v);
    PyMem_Free(spans);
    PyMem_Free(first);
    PyMem_Free(sh);
    PyMem_Free(head_of);
    PyMem_Free(stamp);
    PyMem_Free(truncated);
    PyMem_Free(keys);
    map_free(&exact);
    map_free(&posting_of);
    if (clusters == NULL)
        return NULL;
    return Py_BuildValue("(NN)", clusters, matched);
}

/* For the tests: the sort above on a list of ints, with a given depth before heapsort. */
static PyObject *sorted_u64(PyObject *self, PyObject *args) {
    PyObject *given, *values, *out = NULL;
    int depth;
    if (!PyArg_ParseTuple(args, "Oi", &given, &depth))
        return NULL;
    values = PySequence_Fast(given, "a list of ints");
    if (values == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(values);
    uint64_t *v = PyMem_Malloc((n ? n : 1) * sizeof(uint64_t));
    if (v == NULL) {
        Py_DECREF(values);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        v[k] = PyLong_AsUnsignedLongLong(PySequence_Fast_GET_ITEM(values, k));
        if (v[k] == (uint64_t)-1 && PyErr_Occurred())
            goto done;
    }
    sort_u64_depth(v, n, depth);
    out = PyList_New(n);
    for (Py_ssize_t k = 0; out != NULL && k < n; k++) {
        PyObject *x = PyLong_FromUnsignedLongLong(v[k]);
        if (x == NULL) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, k, x);
    }
done:
    PyMem_Free(v);
    Py_DECREF(values);
    return out;
}

/* ---- u32_shared_count: dedupe.minhash.shared_count ---- */

static PyObject *u32_shared_count(PyObject *self, PyObject *args) {
    Py_buffer a, b;
    if (!PyArg_ParseTuple(args, "y*y*", &a, &b))
        return NULL;
    PyObject *result = NULL;
    if (a.len % 4 || b.len % 4) {
        PyErr_SetString(PyExc_ValueError, "shared_count(): buffers of uint32 expected");
        goto done;
    }
    result = PyLong_FromSsize_t(shared_u32((const uint32_t *)a.buf, a.len / 4, (const uint32_t *)b.buf, b.len / 4));
done:
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    return result;
}

/* ---- lines_layout: dedupe.segment._lines_layout ---- */

static inline int horizontal_space(Py_UCS4 c) {
    /* dedupe.segment._SPACES */
    return c == ' ' || c == '\t' || c == '\f' || c == '\v' || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

static inline int blank_end(Py_UCS4 c) {
    /* dedupe.segment._BLANK: what a paragraph's ends are trimmed of */
    return c == ' ' || c == 0x200B || c == 0x200C || c == 0x200D || c == 0x2060 || c == 0xFEFF;
}

/* Per Latin-1 character: 1 for a horizontal space, 2 more for one other than ' ' (filled when the module loads). */
static unsigned char latin1_space[256];

static void latin1_spaces_init(void) {
    for (Py_UCS4 c = 0; c < 256; c++)
        latin1_space[c] = horizontal_space(c) ? (c == ' ' ? 1 : 3) : 0;
}

/* Whether a line has a run of horizontal space to squash, or a space other than ' '. */
static int needs_squash(int kind, const void *data, Py_ssize_t start, Py_ssize_t stop) {
    if (kind == PyUnicode_1BYTE_KIND) { /* most text: without a branch a character (spaces are every few) */
        const Py_UCS1 *chars = data;
        unsigned found = 0;
        if (start < stop)
            found = latin1_space[chars[stop - 1]] >> 1;
        for (Py_ssize_t i = start; i + 1 < stop; i++)
            found |= (latin1_space[chars[i]] >> 1) | (latin1_space[chars[i]] & latin1_space[chars[i + 1]] & 1);
        return found != 0;
    }
    for (Py_ssize_t i = start; i < stop; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (horizontal_space(c) && (c != ' ' || (i + 1 < stop && horizontal_space(PyUnicode_READ(kind, data, i + 1)))))
            return 1;
    }
    return 0;
}

/* One line [start, stop) of text: each run of horizontal space made one space, the ends trimmed of
 * _BLANK; appended to out unless nothing is left. */
static int append_line(PyObject *out, PyObject *text, int kind, const void *data, Py_ssize_t start, Py_ssize_t stop,
                       Py_UCS4 **buf, Py_ssize_t *cap) {
    int squash = needs_squash(kind, data, start, stop);
    PyObject *line;
    if (!squash) {
        while (start < stop && blank_end(PyUnicode_READ(kind, data, start)))
            start++;
        while (stop > start && blank_end(PyUnicode_READ(kind, data, stop - 1)))
            stop--;
        if (start == stop)
            return 0;
        line = PyUnicode_Substring(text, start, stop);
    } else {
        if (stop - start > *cap) {
            Py_UCS4 *grown = PyMem_Realloc(*buf, (size_t)(stop - start) * sizeof(Py_UCS4));
            if (grown == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            *buf = grown;
            *cap = stop - start;
        }
        Py_ssize_t n = 0;
        for (Py_ssize_t i = start; i < stop; i++) {
            Py_UCS4 c = PyUnicode_READ(kind, data, i);
            if (horizontal_space(c)) {
                while (i + 1 < stop && horizontal_space(PyUnicode_READ(kind, data, i + 1)))
                    i++;
                c = ' ';
            }
            (*buf)[n++] = c;
        }
        Py_ssize_t first = 0;
        while (first < n && blank_end((*buf)[first]))
            first++;
        while (n > first && blank_end((*buf)[n - 1]))
            n--;
        if (first == n)
            return 0;
        line = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, *buf + first, n - first);
    }
    return append_new(out, line);
}

static PyObject *lines_layout(PyObject *self, PyObject *text) {
    if (ready_str(text, "lines_layout") < 0)
        return NULL;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), start = 0, pairs = 0, cap = 0;
    int previous = 0; /* whether the line before was not blank */
    Py_UCS4 *buf = NULL;
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    while (start <= n) {
        Py_ssize_t stop = start;
        int blank = 1;
        if (kind == PyUnicode_1BYTE_KIND) { /* the line's end by memchr; blank unless a non-space comes first */
            const Py_UCS1 *chars = data, *end = memchr(chars + start, '\n', (size_t)(n - start));
            stop = end == NULL ? n : end - chars;
            for (Py_ssize_t i = start; i < stop && blank; i++)
                blank = Py_UNICODE_ISSPACE(chars[i]);
        } else {
            for (; stop < n; stop++) {
                Py_UCS4 c = PyUnicode_READ(kind, data, stop);
                if (c == '\n')
                    break;
                if (blank && !Py_UNICODE_ISSPACE(c))
                    blank = 0;
            }
        }
        if (!blank) {
            pairs += previous;
            if (append_line(out, text, kind, data, start, stop, &buf, &cap) < 0)
                goto fail;
        }
        previous = !blank;
        start = stop + 1;
    }
    PyMem_Free(buf);
    return Py_BuildValue("(Nn)", out, pairs);
fail:
    PyMem_Free(buf);
    Py_DECREF(out);
    return NULL;
}

/* ---- find_char and char_positions: the scans of dedupe.clean ---- */

#define BMP_TABLE_BYTES 8192 /* a bit a code point below U+10000 */

static inline int in_table(const unsigned char *table, Py_UCS4 c) {
    return c < 0x10000 && (table[c >> 3] >> (c & 7)) & 1;
}

/* Where the next character in table is, from start (or n: none); the kind a constant in each loop. */
static Py_ssize_t next_in_table(int kind, const void *data, Py_ssize_t start, Py_ssize_t n, const unsigned char *table) {
    Py_ssize_t i = start;
    if (kind == PyUnicode_1BYTE_KIND) {
        const Py_UCS1 *chars = data;
        while (i < n && !in_table(table, chars[i]))
            i++;
    } else if (kind == PyUnicode_2BYTE_KIND) {
        const Py_UCS2 *chars = data;
        while (i < n && !in_table(table, chars[i]))
            i++;
    } else {
        const Py_UCS4 *chars = data;
        while (i < n && !in_table(table, chars[i]))
            i++;
    }
    return i;
}

/* 0 when text is a ready str and table the size of one, else -1 with an exception set (and the table released). */
static int table_arg(Py_buffer *table, PyObject *text, const char *function) {
    if (ready_str(text, function) < 0) {
        PyBuffer_Release(table);
        return -1;
    }
    if (table->len != BMP_TABLE_BYTES) {
        PyErr_SetString(PyExc_ValueError, "the table must be 8192 bytes: a bit a code point below U+10000");
        PyBuffer_Release(table);
        return -1;
    }
    return 0;
}

static PyObject *find_char(PyObject *self, PyObject *args) {
    PyObject *text;
    Py_buffer table;
    Py_ssize_t start = 0;
    if (!PyArg_ParseTuple(args, "Oy*|n", &text, &table, &start) || table_arg(&table, text, "find_char") < 0)
        return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (start < 0)
        start = 0;
    Py_ssize_t at = next_in_table(PyUnicode_KIND(text), PyUnicode_DATA(text), start, n, table.buf);
    PyBuffer_Release(&table);
    return PyLong_FromSsize_t(at < n ? at : -1);
}

static PyObject *char_positions(PyObject *self, PyObject *args) {
    PyObject *text;
    Py_buffer table;
    if (!PyArg_ParseTuple(args, "Oy*", &text, &table) || table_arg(&table, text, "char_positions") < 0)
        return NULL;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    PyObject *out = PyList_New(0);
    for (Py_ssize_t at = 0; out != NULL && (at = next_in_table(kind, data, at, n, table.buf)) < n; at++)
        if (append_new(out, PyLong_FromSsize_t(at)) < 0)
            Py_CLEAR(out);
    PyBuffer_Release(&table);
    return out;
}

static PyMethodDef methods[] = {
    {"tokens", tokens, METH_O, "The tokens of a casefolded text: CJK characters one by one, runs of other letters and digits."},
    {"paragraph_shingles", paragraph_shingles, METH_VARARGS,
     "(paragraphs, words) -> (uint32 bytes: each paragraph's sorted distinct n-gram hashes, int64 bytes: how many each)."},
    {"signatures", signatures, METH_VARARGS,
     "(hashes u32, counts i64, a u32, b u32, out u32 rows x perms) -> None: the minima written into out."},
    {"shingle_sets", shingle_sets, METH_VARARGS,
     "(tokens, max_n) -> (frozenset of every n-gram's hash, n = 1..max_n; frozenset of the longest n-grams')."},
    {"may_repeat", may_repeat, METH_VARARGS,
     "(paragraphs, size, rate, slack) -> the paragraphs that can match another one (see dedupe.document)."},
    {"cluster", cluster, METH_VARARGS,
     "(order, paragraphs, keys, truncated, skip, (size, min_words, prefix_words, posting_cap, threshold, containment,"
     " subset_ratio)) -> (each paragraph's cluster head, [(paragraph, head, similarity, rule)])."},
    {"_sorted_u64", sorted_u64, METH_VARARGS, "(values, depth) -> the values sorted as the kernels sort (for tests)."},
    {"token_texts", token_texts, METH_O,
     "(texts: list or tuple) -> (each text's tokens, casefolded first, joined with \\x1f as UTF-8 bytes; how many"
     " tokens each has)."},
    {"lines_layout", lines_layout, METH_O,
     "(text) -> (each non-blank line with its space runs squashed and its ends trimmed, how many non-blank lines follow"
     " another)."},
    {"find_char", find_char, METH_VARARGS,
     "(text, table, start=0) -> the index of the first character from start whose bit is set in table (8192 bytes,"
     " a bit a code point below U+10000), or -1."},
    {"char_positions", char_positions, METH_VARARGS, "(text, table) -> the index of every character in table, in order."},
    {"shared_count", u32_shared_count, METH_VARARGS,
     "(uint32 bytes, uint32 bytes) -> how many values two ascending runs of distinct values share."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "dedupe._speedups",
                                    "Compiled kernels of dedupe's per-article work.", -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__speedups(void) {
    PyObject *name = PyUnicode_FromString("dedupe._speedups");
    if (name == NULL)
        return NULL;
    Py_hash_t h = PyObject_Hash(name);
    Py_DECREF(name);
    if (h == -1)
        return NULL;
    map_seed = xxh64((const unsigned char *)&h, sizeof(h));
    latin1_spaces_init();
    return PyModule_Create(&module);
}
