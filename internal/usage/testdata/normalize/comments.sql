/* header
comment */ SELECT a -- trailing 123
, b /* inline 'x' */ FROM t -- user: alice