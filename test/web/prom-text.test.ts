import { describe, expect, it } from "vitest";
import { parsePromText, sampleValue } from "../support/prom-text.js";

const GOOD = `# HELP a_total things done
# TYPE a_total counter
a_total{kind="load",note="say \\"hi\\"\\n"} 3
# TYPE h_seconds histogram
h_seconds_bucket{le="0.1"} 1
h_seconds_bucket{le="+Inf"} 2
h_seconds_sum 0.5
h_seconds_count 2
`;

describe("the exposition-format checker the metrics tests use", () => {
  it("reads valid text", () => {
    const f = parsePromText(GOOD);
    expect(sampleValue(f, "a_total", { note: 'say "hi"\n' })).toBe(3);
    expect(f.get("h_seconds")?.samples).toHaveLength(4);
  });

  it.each([
    ["no final line feed", GOOD.trimEnd()],
    ["a sample before its TYPE", "x 1\n"],
    ["a bad escape", '# TYPE a counter\na{k="\\t"} 1\n'],
    ["a value that is no float", "# TYPE a gauge\na 1,5\n"],
    ["a duplicate series", "# TYPE a gauge\na 1\na 2\n"],
    ["an unquoted label", "# TYPE a gauge\na{k=v} 1\n"],
    ["a family split by another", "# TYPE a gauge\n# TYPE b gauge\nb 1\n# HELP a again\n"],
    ["a +Inf bucket that is not the count", GOOD.replace("h_seconds_count 2", "h_seconds_count 3")],
    ["buckets that shrink", GOOD.replace('le="+Inf"} 2', 'le="+Inf"} 0').replace("_count 2", "_count 0")],
    ["a negative counter", "# TYPE a_total counter\na_total -1\n"],
  ])("refuses %s", (_what, text) => {
    expect(() => parsePromText(text)).toThrow();
  });
});
