/*
 * api_schema.h (private to src/api): resources described as data. One table
 * of field specs per resource drives request validation, defaults, the
 * stored document and the OpenAPI document, so the three cannot disagree.
 */
#ifndef HL_API_SCHEMA_H
#define HL_API_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum schema_type {
	SCHEMA_STRING,
	SCHEMA_INT,
	SCHEMA_BOOL,
	SCHEMA_ENUM,   /* string from a fixed list */
	SCHEMA_ARRAY,  /* of items */
	SCHEMA_OBJECT, /* with props */
	SCHEMA_REF,    /* id of another resource (integer >= 1, or null) */
	SCHEMA_HHMM,   /* "HH:MM", 00:00-24:00 */
	SCHEMA_DATE,   /* "YYYY-MM-DD" */
};

struct schema_field {
	const char *name;
	enum schema_type type;
	bool required;
	bool nullable;
	bool write_only;       /* accepted, never stored in doc or returned */
	bool unique_items;     /* arrays */
	int64_t min, max;      /* string length in code points, int range, array items */
	const char *const *enums;      /* NULL-terminated */
	const struct schema_field *items; /* SCHEMA_ARRAY: element */
	const struct schema_field *props; /* SCHEMA_OBJECT: terminated by name NULL */
	const char *ref;       /* SCHEMA_REF: table of the referenced resource */
	const char *charset;   /* strings: allowed characters (NULL = any) */
	const char *def;       /* JSON text of the default when absent */
	const char *desc;
};

/* Roles as bits, for permission masks. */
#define ROLE_ADMIN      1u
#define ROLE_SUPERVISOR 2u
#define ROLE_AGENT      4u
#define ROLE_ALL        7u

struct api_resource {
	const char *name;      /* path segment and table: "skills" */
	const char *singular;  /* event prefix and schema name: "skill" */
	const char *title;     /* OpenAPI schema name: "Skill" */
	const char *name_field; /* field stored in the name column */
	const char *name_column;
	const struct schema_field *fields; /* terminated by name NULL */
	unsigned read_roles, write_roles;
};

extern const struct api_resource api_resources[];
extern const size_t api_resources_count;

const struct api_resource *schema_resource(const char *name);

/* A reference found while validating: path "skills[0].skill_id" -> table. */
struct schema_ref {
	const char *table;
	int64_t id;
	char path[96];
};

struct schema_result {
	int status;        /* 0 ok, 422 */
	char field[128];   /* dotted path of the offending field */
	char detail[400];
	struct schema_ref refs[64];
	size_t nrefs;
};

/* Validate `in` (any JSON value) against a resource's fields and return a
 * new object with defaults applied and write_only fields left out (NULL
 * when invalid). allow_version lets a "version" integer through (updates),
 * reported in *version (0 when absent). */
json_t *schema_validate(const struct api_resource *res, json_t *in, bool allow_version,
			int64_t *version, struct schema_result *out);

/* Count UTF-8 code points of a valid UTF-8 string. */
size_t schema_utf8_len(const char *s);

/* Build the OpenAPI 3.1 document (new reference). */
json_t *schema_openapi(void);

#endif
