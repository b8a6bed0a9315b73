SELECT 'it''s', E'a\'b', U&'\0041', X'CAFE', 'multi
line' FROM t WHERE name = 'O''Brien'