-- DpuCount of a query's statistics (provisioned-capacity workgroups): with
-- engine time it gives the query's DPU-hours (DESIGN.md, Cost).
ALTER TABLE queries ADD COLUMN dpu_count REAL NOT NULL DEFAULT 0;
