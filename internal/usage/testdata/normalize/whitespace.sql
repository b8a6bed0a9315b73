  SELECT	a ,b

 FROM   tWHERE ( a = 1 )  ;  ;  