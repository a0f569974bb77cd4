// A strict checker of Monitoring API JSON against the protos Google ships in its Node clients
// (@google-cloud/monitoring-dashboards: google.monitoring.dashboard.v1; @google-cloud/monitoring:
// google.monitoring.v3), each loaded from the package's build/protos/protos.json with the
// protobufjs those clients use (google-gax re-exports it).
//
// protobufjs's own verify()/fromObject() are too lenient or too strict for the API's JSON form:
// verify() rejects enum names, fromObject() does not parse "60s" durations and silently drops
// unknown fields. So this walks the JSON itself, following proto3's JSON mapping:
//  - every key must be a field of the message, by its JSON name (lowerCamelCase, what the REST API
//    and Pulumi's dashboardJson use; protobufjs keeps field names in that form);
//  - repeated fields are arrays, maps are objects, at most one member of each oneof is set;
//  - enums are value names (strings); numbers are refused;
//  - google.protobuf.Duration is "<seconds>s"; Timestamp is RFC 3339; Struct/Value/ListValue any
//    JSON of the right shape; wrappers are their primitive; Empty is {};
//  - int64 kinds accept an integer number or a decimal string; 32-bit kinds integers in range;
//    double/float finite numbers; bool booleans; string strings; bytes base64 strings;
//  - fields marked (google.api.field_behavior) = REQUIRED must be present;
//  - null is refused everywhere except as a google.protobuf.Value; undefined counts as absent.
// Each problem names the JSON path where it is, e.g. $.mosaicLayout.tiles[2].widget.
import * as fs from "fs";
import { protobuf } from "google-gax";

type Root = protobuf.Root;
type PType = protobuf.Type;

function loadRoot(pkg: string): Root {
    const file = require.resolve(`${pkg}/build/protos/protos.json`);
    return protobuf.Root.fromJSON(JSON.parse(fs.readFileSync(file, "utf8")) as protobuf.INamespace);
}

let dashboards: Root | undefined;
let monitoring: Root | undefined;
/** google.monitoring.dashboard.v1 and its dependencies, from @google-cloud/monitoring-dashboards. */
export function dashboardsRoot(): Root {
    return (dashboards ??= loadRoot("@google-cloud/monitoring-dashboards"));
}
/** google.monitoring.v3 and its dependencies, from @google-cloud/monitoring. */
export function monitoringRoot(): Root {
    return (monitoring ??= loadRoot("@google-cloud/monitoring"));
}

const DURATION = /^-?\d+(\.\d{1,9})?s$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const BASE64 = /^(?:[A-Za-z0-9+/_-]{4})*(?:[A-Za-z0-9+/_-]{2}(?:==)?|[A-Za-z0-9+/_-]{3}=?)?$/;

const INT32_KINDS = new Set(["int32", "sint32", "sfixed32"]);
const UINT32_KINDS = new Set(["uint32", "fixed32"]);
const INT64_KINDS = new Set(["int64", "sint64", "sfixed64"]);
const UINT64_KINDS = new Set(["uint64", "fixed64"]);

/** google.protobuf wrapper types and the scalar each one stands for in JSON. */
const WRAPPERS: Readonly<Record<string, string>> = {
    ".google.protobuf.DoubleValue": "double",
    ".google.protobuf.FloatValue": "float",
    ".google.protobuf.Int64Value": "int64",
    ".google.protobuf.UInt64Value": "uint64",
    ".google.protobuf.Int32Value": "int32",
    ".google.protobuf.UInt32Value": "uint32",
    ".google.protobuf.BoolValue": "bool",
    ".google.protobuf.StringValue": "string",
    ".google.protobuf.BytesValue": "bytes",
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
    const proto = Object.getPrototypeOf(v) as unknown;
    return proto === Object.prototype || proto === null;
}

function describe(v: unknown): string {
    if (v === null) return "null";
    if (Array.isArray(v)) return "an array";
    if (typeof v === "string") return `the string ${JSON.stringify(v)}`;
    if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return `${typeof v} ${v}`;
    return typeof v === "object" ? "an object" : typeof v;
}

function key(path: string, name: string): string {
    return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? `${path}.${name}` : `${path}[${JSON.stringify(name)}]`;
}

class Checker {
    readonly problems: string[] = [];

    private add(path: string, msg: string): void {
        this.problems.push(`${path}: ${msg}`);
    }

    scalar(kind: string, v: unknown, path: string): void {
        if (kind === "string") {
            if (typeof v !== "string") this.add(path, `expected a string, got ${describe(v)}`);
        } else if (kind === "bool") {
            if (typeof v !== "boolean") this.add(path, `expected a boolean, got ${describe(v)}`);
        } else if (kind === "double" || kind === "float") {
            if (typeof v !== "number" || !Number.isFinite(v)) this.add(path, `expected a finite number (${kind}), got ${describe(v)}`);
        } else if (INT32_KINDS.has(kind) || UINT32_KINDS.has(kind)) {
            const min = UINT32_KINDS.has(kind) ? 0 : -(2 ** 31);
            const max = UINT32_KINDS.has(kind) ? 2 ** 32 - 1 : 2 ** 31 - 1;
            if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) this.add(path, `expected an integer number (${kind}), got ${describe(v)}`);
        } else if (INT64_KINDS.has(kind) || UINT64_KINDS.has(kind)) {
            const unsigned = UINT64_KINDS.has(kind);
            const ok = typeof v === "number"
                ? Number.isSafeInteger(v) && (!unsigned || v >= 0)
                : typeof v === "string" && (unsigned ? /^\d+$/ : /^-?\d+$/).test(v);
            if (!ok) this.add(path, `expected an integer number or decimal string (${kind}), got ${describe(v)}`);
        } else if (kind === "bytes") {
            if (typeof v !== "string" || !BASE64.test(v)) this.add(path, `expected a base64 string (bytes), got ${describe(v)}`);
        } else {
            this.add(path, `unknown scalar type ${kind}`);
        }
    }

    /** Any JSON value (google.protobuf.Value). */
    jsonValue(v: unknown, path: string): void {
        if (v === null || typeof v === "string" || typeof v === "boolean") return;
        if (typeof v === "number") {
            if (!Number.isFinite(v)) this.add(path, `expected a finite number, got ${describe(v)}`);
        } else if (Array.isArray(v)) {
            v.forEach((x, i) => this.jsonValue(x, `${path}[${i}]`));
        } else if (isPlainObject(v)) {
            for (const [k, x] of Object.entries(v)) this.jsonValue(x, key(path, k));
        } else {
            this.add(path, `expected a JSON value, got ${describe(v)}`);
        }
    }

    /** Well-known types with a special JSON form; false when `type` is an ordinary message. */
    private wellKnown(type: PType, v: unknown, path: string): boolean {
        const name = type.fullName;
        if (name in WRAPPERS) {
            this.scalar(WRAPPERS[name], v, path);
        } else if (name === ".google.protobuf.Duration") {
            if (typeof v !== "string" || !DURATION.test(v)) this.add(path, `expected a duration string like "60s", got ${describe(v)}`);
        } else if (name === ".google.protobuf.Timestamp") {
            if (typeof v !== "string" || !TIMESTAMP.test(v) || Number.isNaN(Date.parse(v))) this.add(path, `expected an RFC 3339 timestamp, got ${describe(v)}`);
        } else if (name === ".google.protobuf.Struct") {
            if (!isPlainObject(v)) this.add(path, `expected an object (Struct), got ${describe(v)}`);
            else this.jsonValue(v, path);
        } else if (name === ".google.protobuf.ListValue") {
            if (!Array.isArray(v)) this.add(path, `expected an array (ListValue), got ${describe(v)}`);
            else this.jsonValue(v, path);
        } else if (name === ".google.protobuf.Value") {
            if (v === undefined) this.add(path, "expected a JSON value");
            else this.jsonValue(v, path);
        } else if (name === ".google.protobuf.Empty") {
            if (!isPlainObject(v) || Object.keys(v).length > 0) this.add(path, `expected {} (Empty), got ${describe(v)}`);
        } else if (name === ".google.protobuf.FieldMask") {
            if (typeof v !== "string") this.add(path, `expected a string (FieldMask), got ${describe(v)}`);
        } else if (name === ".google.protobuf.Any") {
            if (!isPlainObject(v) || typeof v["@type"] !== "string") this.add(path, `expected an object with "@type" (Any), got ${describe(v)}`);
        } else {
            return false;
        }
        return true;
    }

    message(type: PType, v: unknown, path: string): void {
        if (this.wellKnown(type, v, path)) return;
        if (!isPlainObject(v)) {
            this.add(path, `expected an object (${type.fullName.slice(1)}), got ${describe(v)}`);
            return;
        }
        for (const [name, value] of Object.entries(v)) {
            const field = Object.prototype.hasOwnProperty.call(type.fields, name) ? type.fields[name] : undefined;
            const at = key(path, name);
            if (field === undefined) {
                this.add(at, `unknown field "${name}" of ${type.fullName.slice(1)}`);
                continue;
            }
            if (value === undefined) continue;
            this.field(field, value, at);
        }
        for (const oneof of type.oneofsArray) {
            const set = oneof.oneof.filter((n) => v[n] !== undefined);
            if (set.length > 1) this.add(path, `oneof ${oneof.name} has more than one member set: ${set.join(", ")}`);
        }
        for (const field of type.fieldsArray) {
            const behavior = (field.options ?? {})["(google.api.field_behavior)"] as unknown;
            const value = v[field.name];
            if (behavior === "REQUIRED" && (value === undefined || (Array.isArray(value) && value.length === 0))) {
                this.add(key(path, field.name), `required field of ${type.fullName.slice(1)} is missing`);
            }
        }
    }

    private field(field: protobuf.Field, value: unknown, path: string): void {
        field.resolve();
        if (value === null && field.resolvedType?.fullName !== ".google.protobuf.Value") {
            this.add(path, "null is not allowed (omit the field)");
            return;
        }
        if (field instanceof protobuf.MapField) {
            const keyType = field.keyType;
            if (!isPlainObject(value)) {
                this.add(path, `expected an object (map<${keyType}, ${field.type}>), got ${describe(value)}`);
                return;
            }
            for (const [k, x] of Object.entries(value)) {
                if (keyType === "bool" ? !/^(true|false)$/.test(k) : keyType !== "string" && !/^-?\d+$/.test(k)) {
                    this.add(key(path, k), `map key is not a ${keyType}`);
                }
                this.single(field, x, key(path, k));
            }
        } else if (field.repeated) {
            if (!Array.isArray(value)) {
                this.add(path, `expected an array (repeated ${field.type}), got ${describe(value)}`);
                return;
            }
            value.forEach((x, i) => this.single(field, x, `${path}[${i}]`));
        } else {
            this.single(field, value, path);
        }
    }

    private single(field: protobuf.Field, v: unknown, path: string): void {
        const t = field.resolvedType;
        if (t instanceof protobuf.Enum) {
            if (typeof v !== "string") this.add(path, `expected a name of enum ${t.fullName.slice(1)}, got ${describe(v)}`);
            else if (!Object.prototype.hasOwnProperty.call(t.values, v)) this.add(path, `"${v}" is not a value of enum ${t.fullName.slice(1)}`);
        } else if (t instanceof protobuf.Type) {
            if (v === null && t.fullName !== ".google.protobuf.Value") this.add(path, "null is not allowed (omit the element)");
            else this.message(t, v, path);
        } else {
            this.scalar(field.type, v, path);
        }
    }
}

/** Every way `value` is not valid proto3 JSON of message `typeName` in `root`; empty when valid. */
export function protoProblems(root: Root, typeName: string, value: unknown): string[] {
    const checker = new Checker();
    checker.message(root.lookupType(typeName), value, "$");
    return checker.problems;
}

/** Problems of a google.monitoring.dashboard.v1.Dashboard (what gcp.monitoring.Dashboard's dashboardJson holds). */
export function dashboardProblems(obj: unknown): string[] {
    return protoProblems(dashboardsRoot(), "google.monitoring.dashboard.v1.Dashboard", obj);
}

/** Problems of a google.monitoring.v3.AlertPolicy. */
export function alertPolicyProblems(obj: unknown): string[] {
    return protoProblems(monitoringRoot(), "google.monitoring.v3.AlertPolicy", obj);
}
