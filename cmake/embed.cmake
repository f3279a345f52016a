# scribe_embed(OUT_C SYMBOL BASE_DIR FILE...)
# Generates OUT_C defining `const scribe_embedded_file SYMBOL[]`: one row per
# file (path relative to BASE_DIR, bytes, size), ended by a NULL path.
function(scribe_embed out_c symbol base_dir)
  set(files ${ARGN})
  add_custom_command(
    OUTPUT ${out_c}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out_c} -DSYMBOL=${symbol} -DBASE=${base_dir}
            "-DFILES=${files}" -P ${CMAKE_SOURCE_DIR}/cmake/embed_run.cmake
    DEPENDS ${files} ${CMAKE_SOURCE_DIR}/cmake/embed_run.cmake
    COMMENT "Embedding ${symbol}"
    VERBATIM)
endfunction()
