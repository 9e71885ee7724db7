"""Figures: functions that take results (histories, probe results, counts) and return plotly figures.

They never run a model. Every figure uses the palette and template of ``style``: plain nets
vermillion, ResNets blue everywhere, large fonts for projectors (``set_theme(large=False)`` for
laptops), an explicit width and height.
"""

from .architecture import architecture_diagram
from .attribution import attribution_grid, attribution_overlay, sanity_check_figure, sanity_maps_figure
from .costs import ModelCost, cost_comparison
from .curves import training_curves
from .export import ExportError, save_html, save_image
from .gradients import gradient_flow_figure, gradient_norms_over_training
from .images import image_grid
from .landscape import landscape_contour_figure, landscape_curves_figure, landscape_surface_figure
from .lesion import block_deletion_figure, lesion_curves_figure, path_lengths_figure
from .live import LiveFigureWidget, update_in_place
from .responses import layer_responses_figure
from .shattering import autocorrelation_figure, gradient_traces_figure
from .style import PLAIN_COLOR, RESIDUAL_COLOR, set_theme
from .variants import race_curves_figure, race_errors_figure

__all__ = [
    "ExportError",
    "ModelCost",
    "PLAIN_COLOR",
    "RESIDUAL_COLOR",
    "architecture_diagram",
    "attribution_grid",
    "attribution_overlay",
    "autocorrelation_figure",
    "block_deletion_figure",
    "cost_comparison",
    "gradient_flow_figure",
    "gradient_norms_over_training",
    "gradient_traces_figure",
    "image_grid",
    "landscape_contour_figure",
    "landscape_curves_figure",
    "landscape_surface_figure",
    "layer_responses_figure",
    "lesion_curves_figure",
    "path_lengths_figure",
    "race_curves_figure",
    "race_errors_figure",
    "save_html",
    "sanity_check_figure",
    "sanity_maps_figure",
    "save_image",
    "set_theme",
    "training_curves",
    "update_in_place",
    "LiveFigureWidget",
]
