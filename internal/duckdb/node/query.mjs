// Runs SQL statements given on standard input (a JSON array of strings) in
// an in-memory DuckDB and prints, for each, its rows as a JSON array of
// objects, with every value as text (so 64-bit integers and doubles reach
// the caller exactly), and the column types.
import { DuckDBInstance } from '@duckdb/node-api';

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const statements = JSON.parse(Buffer.concat(chunks).toString('utf8'));

const instance = await DuckDBInstance.create(':memory:');
const conn = await instance.connect();
const out = [];
for (const sql of statements) {
  const reader = await conn.runAndReadAll(sql);
  const names = reader.columnNames();
  const types = reader.columnTypes().map((t) => t.toString());
  const rows = reader.getRows().map((r) => {
    const o = {};
    r.forEach((v, i) => { o[names[i]] = v === null ? null : String(v); });
    return o;
  });
  out.push({ columns: names, types, rows });
}
process.stdout.write(JSON.stringify(out));
