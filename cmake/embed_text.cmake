# Turns a text file into a C++ source defining `extern const char* const taskd::SYMBOL`.
file(READ ${INPUT} content HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${content}")
file(WRITE ${OUTPUT} "namespace taskd {\nextern const char* const ${SYMBOL};\nstatic const char ${SYMBOL}_data[] = {${bytes} 0};\nconst char* const ${SYMBOL} = ${SYMBOL}_data;\n}\n")
