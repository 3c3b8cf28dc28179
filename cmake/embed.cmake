# Turns ui/index.html into a C++ source defining `taskd::ui_index_html`.
file(READ ${INPUT} content HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${content}")
file(WRITE ${OUTPUT} "#include <string_view>\nnamespace taskd {\nstatic const char ui_index_data[] = {${bytes} 0};\nextern const std::string_view ui_index_html;\nconst std::string_view ui_index_html{ui_index_data, sizeof(ui_index_data) - 1};\n}\n")
