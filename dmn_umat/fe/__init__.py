"""fe stage of dmn_umat (see docs/design.md §1, docs/fe2.md): a small implicit small-strain FE solver
whose integration points call any batched material (phase law, DMN/IMN surrogate = FE², or an
FFT RVE = FE×FFT).

- :mod:`.elements`  shape functions, Gauss rules, Mandel B matrices, B-bar
- :mod:`.mesh`      ``Mesh``, structured/gmsh/meshio meshes, node sets, boundary facets
- :mod:`.assembly`  ``Assembler``: vectorized f_int / CSR tangent with a fixed pattern
- :mod:`.solver`    ``Problem``, ``Dirichlet``, ``Traction``, ``NodalForce``, ``Solver``, ``solve``
- :mod:`.output`    XDMF time series, load–displacement PNG, field PNGs
- :mod:`.regions`   ``RegionMaterial``: one material per mesh region
- :mod:`.api`       entry point: ``FE2Job`` → ``run_fe2``, ``MeshJob`` → ``run_mesh`` → ``FE2Result``
- :mod:`.examples`  the ``dmn fe2`` examples; :mod:`.commands` the CLI (``dmn fe2 EXAMPLE|run``)
- :mod:`.fft_material`, :mod:`.concurrent`  FE×FFT reference and the FE² comparison
- :mod:`.finite`    total-Lagrangian finite-strain elements (F-bar) and materials, ``plate-hole-finite``
"""
