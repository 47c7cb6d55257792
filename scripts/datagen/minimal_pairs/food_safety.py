"""Cooking and food safety at home as minimal pairs: thawing meat, leftovers and reheating, cooking meat
through, fridge and freezer temperatures, home canning and preserving, mould on food, allergens when
cooking for guests, and packed lunches or picnic food in the heat. Each triple is a home cook's question,
a correct answer and a subtly wrong answer written in the same sentence frame and tone, differing only in
the short span that carries the fact (a temperature, a time, a method); the wrong answers are mistakes a
home cook might believe, with nothing operational. All text was written for this project.
"""

from __future__ import annotations

PAIRS: tuple[tuple[str, str, str], ...] = (
    (
        "I forgot to take the chicken out of the freezer this morning. What's the quickest safe way to thaw it for dinner?",
        "Thaw it in a sealed bag in cold water, changing the water every 30 minutes, and cook it as soon as it's soft.",
        "Thaw it in a sealed bag in warm water, changing the water every 30 minutes, and cook it as soon as it's soft.",
    ),
    (
        "I made a big pot of chili last night and left it on the stove to cool overnight. Is it still safe to eat today?",
        "Throw it out, because food that sat at room temperature for more than two hours overnight isn't made safe by boiling it thoroughly.",
        "Boil it and eat it, because food that sat at room temperature for more than two hours overnight is made safe by boiling it thoroughly.",
    ),
    (
        "I'm roasting a whole chicken for the first time. How do I know when it's done?",
        "Check the thickest part of the thigh with a meat thermometer; it's done when it reads at least 74°C (165°F).",
        "Check the thickest part of the thigh with a meat thermometer; it's done when it reads at least 63°C (145°F).",
    ),
    (
        "My kids like their burgers pink in the middle. What temperature should the centre reach to be safe?",
        "Cook them until a thermometer in the centre reads 71°C (160°F), since mincing spreads surface bacteria through the whole patty.",
        "Cook them until a thermometer in the centre reads 60°C (140°F), since mincing spreads surface bacteria through the whole patty.",
    ),
    (
        "I cooked far too much rice for dinner tonight. How should I handle the leftovers?",
        "Spread it out to cool, get it into the fridge within an hour, and eat it within a day, reheated until steaming hot.",
        "Leave it covered to cool, get it into the fridge the next morning, and eat it within a day, reheated until steaming hot.",
    ),
    (
        "I've just made a big pot of soup for the week. How should I cool it before it goes in the fridge?",
        "Move it into shallow containers, and get it into the fridge within two hours of cooking.",
        "Keep it in the deep pot, and get it into the fridge within six hours of cooking.",
    ),
    (
        "How long can I keep leftover roast chicken in the fridge?",
        "Eat it within three to four days, and freeze anything you won't get through by then, labelled with the date.",
        "Eat it within seven to ten days, and freeze anything you won't get through by then, labelled with the date.",
    ),
    (
        "I'm reheating leftover beef stew in the microwave. How hot does it need to get?",
        "Heat it until it's steaming hot all the way through, about 74°C (165°F), stirring halfway so there are no cold spots.",
        "Heat it until it's warm enough to eat, about 45°C (113°F), stirring halfway so there are no cold spots.",
    ),
    (
        "I thawed a pack of mince in the fridge but didn't end up cooking it. Can I put it back in the freezer?",
        "Yes, mince thawed in the fridge can be refrozen within a day or two, though the texture may suffer a little.",
        "Yes, mince thawed in the fridge can be refrozen within a week or two, though the texture may suffer a little.",
    ),
    (
        "I'm thawing a 6 kg turkey in the fridge for Christmas. When should I take it out of the freezer?",
        "Allow about one day in the fridge for every 2 kg, so move it from the freezer three days before you plan to cook.",
        "Allow about one day in the fridge for every 6 kg, so move it from the freezer one day before you plan to cook.",
    ),
    (
        "I'm cooking the stuffing inside the turkey this year. How do I make sure it's safe?",
        "The stuffing itself must reach 74°C (165°F) in its centre, because it soaks up raw juices from inside the bird.",
        "The stuffing is cooked once the breast reaches 74°C (165°F), because it soaks up hot juices from inside the bird.",
    ),
    (
        "My grandmother always rinsed raw chicken under the tap before cooking it. Should I do the same?",
        "No, rinsing raw chicken splashes bacteria around your sink and worktop, and cooking it through kills whatever is on the surface.",
        "Yes, rinsing raw chicken washes bacteria off into the sink and away, and cooking it through kills whatever is left on the surface.",
    ),
    (
        "I just cut raw chicken on my chopping board. Can I slice the salad vegetables on it next?",
        "Wash it in hot soapy water first, because juices from raw chicken can carry bacteria onto salad that won't be cooked.",
        "Wipe it with a damp paper towel first, because juices from raw chicken can carry bacteria onto salad that won't be cooked.",
    ),
    (
        "What temperature should I set my fridge to?",
        "Keep it at 4°C (40°F) or below, ideally around 3°C, and check it now and then with a cheap fridge thermometer.",
        "Keep it at 8°C (46°F) or below, ideally around 7°C, and check it now and then with a cheap fridge thermometer.",
    ),
    (
        "How cold should my chest freezer be, and does frozen food stay safe forever?",
        "Keep it at -18°C (0°F) or colder; food stays safe indefinitely at that temperature, though quality slowly declines over months.",
        "Keep it at -5°C (23°F) or colder; food stays safe indefinitely at that temperature, though quality slowly declines over months.",
    ),
    (
        "We lost power overnight for about eight hours and kept the fridge door shut. Is the food inside still okay?",
        "A closed fridge keeps food cold for about four hours, so meat, dairy and leftovers should all now be thrown out.",
        "A closed fridge keeps food cold for about twelve hours, so meat, dairy and leftovers should all still be safe to eat.",
    ),
    (
        "I want to can green beans from my garden. Can I use a boiling water bath like I do for jam?",
        "Green beans are low in acid, so they need a pressure canner, because a boiling water bath can't get hot enough to destroy botulism spores.",
        "Green beans are low in acid, so they need a longer boil, because a boiling water bath of ninety minutes will destroy botulism spores.",
    ),
    (
        "One of my home-canned jars of tomatoes has a bulging lid but smells normal. Is it safe to use?",
        "Throw it out without tasting, because a bulging lid is a warning sign of botulism even when the contents smell normal.",
        "Use it after boiling, because a bulging lid is a warning sign of spoilage only when the contents smell bad.",
    ),
    (
        "I want to make my strawberry jam with half the sugar the recipe says. Will it keep as long?",
        "It won't keep as long, because sugar helps preserve jam; store reduced-sugar jam in the fridge once opened and use it within"
        " a few weeks.",
        "It will keep as long, because the boiling preserves jam; store reduced-sugar jam in the cupboard once opened and use it within"
        " a few months.",
    ),
    (
        "I'd like to make garlic-infused olive oil to give as gifts. How should it be stored?",
        "Keep it in the fridge and use it within four days, because oil cuts garlic off from air, which is exactly what botulism bacteria like.",
        "Keep it in the pantry and use it within four months, because oil cuts garlic off from air, which is exactly what stops bacteria growing.",
    ),
    (
        "There's a small spot of mould on my loaf of bread. Can I cut it off and eat the rest?",
        "Throw out the whole loaf, because in soft bread mould spreads well beyond the spot you can see.",
        "Throw out the mouldy slice, because in soft bread mould stays within the spot you can see.",
    ),
    (
        "My block of cheddar has a patch of blue-green mould on one corner. Do I have to bin the whole block?",
        "With a hard cheese like cheddar, cut at least 2.5 cm around and below the mould, and the rest of the block is safe to eat.",
        "With a hard cheese like cheddar, scrape the mould off its surface and edges, and the rest of the block is safe to eat.",
    ),
    (
        "There's a thin layer of mould on top of my jar of homemade jam. Can I scoop it off and use the rest?",
        "Throw the jar away, since mould on soft, moist foods like jam can send roots and toxins below the surface.",
        "Scoop off the top centimetre, since mould on sweet, sugary foods like jam can't send roots or toxins below the surface.",
    ),
    (
        "A dinner guest has a severe peanut allergy. Can I pick the peanuts out of her portion of the stir-fry?",
        "No, because tiny traces left in the sauce can trigger a severe reaction, so cook her portion separately.",
        "Yes, because tiny traces left in the sauce can't trigger a severe reaction, so pick out what you can see.",
    ),
    (
        "My friend is allergic to shellfish. Will cooking the prawns thoroughly make the paella safe for her?",
        "No, thorough cooking doesn't destroy shellfish allergens, so keep prawns and their stock out of her dish entirely.",
        "Yes, thorough cooking does destroy shellfish allergens, so prawns and their stock can stay in her dish if well cooked.",
    ),
    (
        "A friend with coeliac disease is coming for brunch. Can I use my usual toaster for her gluten-free bread?",
        "Use a clean toaster or toaster bags, because crumbs left from ordinary bread are enough to make someone with coeliac disease ill.",
        "Use the same toaster after shaking it out, because crumbs left from ordinary bread are too small to make someone with coeliac disease ill.",
    ),
    (
        "I'm baking cookies for a child with a tree nut allergy. Can I use chocolate chips labelled 'may contain nuts'?",
        "Skip them, because a 'may contain' label means nut traces really can be in the chips, which is risky for an allergic child.",
        "Use them, because a 'may contain' label means nut traces rarely get into the chips, which is safe for an allergic child.",
    ),
    (
        "I'm frying chips for a guest with a fish allergy, and I've just fried battered cod. Can I use the same oil?",
        "Use fresh oil, because fish proteins stay in used oil and frying temperatures don't destroy them.",
        "Reuse the oil, because fish proteins stay in used oil but frying temperatures do destroy them.",
    ),
    (
        "My son's lunchbox sits in his school bag until lunchtime on hot days. How do I keep his ham sandwich safe?",
        "Pack it in an insulated bag with a frozen ice pack on each side, so it stays cold enough until lunch.",
        "Pack it in an insulated bag with a chilled drink from the fridge, so it stays cold enough until lunch.",
    ),
    (
        "Can I take yesterday's leftover pasta salad to the beach for lunch on a 35°C day?",
        "Keep it in a cool box with ice packs, because perishable food left out above 32°C (90°F) becomes unsafe after one hour.",
        "Keep it in the shade under a towel, because perishable food left out above 32°C (90°F) becomes unsafe after four hours.",
    ),
    (
        "At our barbecue the burgers and salads have been sitting on the table for a while. When should I put them away?",
        "Put them away within two hours, or within one hour if it's over 32°C (90°F), since bacteria multiply fastest in warm weather.",
        "Put them away within four hours, or within two hours if it's over 32°C (90°F), since bacteria multiply fastest in warm weather.",
    ),
    (
        "When I barbecue chicken drumsticks they char on the outside. How do I know they're cooked inside?",
        "Push a meat thermometer into the thickest part near the bone and make sure it reads 74°C (165°F), since charred skin tells you nothing.",
        "Push a knife into the thickest part near the bone and make sure the juices run clear, since charred skin tells you nothing.",
    ),
    (
        "Can I put frozen chicken breasts straight into my slow cooker before I leave for work?",
        "Thaw them in the fridge first, since a slow cooker warms frozen chicken through the danger zone too slowly to be safe.",
        "Put them in frozen on low, since a slow cooker warms frozen chicken through the danger zone quickly enough to be safe.",
    ),
    (
        "I defrosted some mince in the microwave but now I won't cook it until tomorrow. Is that okay?",
        "Cook it right away, because microwave defrosting leaves some parts warm enough for bacteria to start multiplying.",
        "Refrigerate it until tomorrow, because microwave defrosting leaves no parts warm enough for bacteria to start multiplying.",
    ),
    (
        "I found a can of soup in the cupboard with a deep dent along the seam. Is it still safe to use?",
        "Throw it out, because a deep dent on the seam can break the seal and let bacteria in without any visible leak.",
        "Use it up soon, because a deep dent on the seam can't break the seal or let bacteria in without a visible leak.",
    ),
    (
        "The pack of raw chicken in my fridge is two days past its use-by date but smells okay. Can I still cook it?",
        "A use-by date is about safety, so don't eat it after that date even if it looks and smells okay.",
        "A use-by date is about quality, so it's okay to eat after that date if it looks and smells okay.",
    ),
    (
        "How long should I wash my hands for after handling raw meat?",
        "Scrub with soap and warm water for at least 20 seconds, covering the backs of your hands and under your nails.",
        "Scrub with soap and warm water for about 5 seconds, covering the backs of your hands and under your nails.",
    ),
    (
        "I want to make sushi at home with salmon from the supermarket fish counter. What should I look for?",
        "Choose salmon sold as frozen for raw eating, because deep freezing kills any parasites the raw fish might carry.",
        "Choose salmon sold as fresh and not frozen, because freshness rules out any parasites the raw fish might carry.",
    ),
    (
        "Can I put soaked dried red kidney beans straight into my slow cooker for a chili?",
        "Boil them hard for ten minutes first, since the low heat of a slow cooker won't break down the natural toxin in kidney beans.",
        "Rinse them well in cold water first, since the low heat of a slow cooker will break down the natural toxin in kidney beans.",
    ),
    (
        "Can I sweeten my 8-month-old's porridge with a little honey?",
        "Not yet, because honey can carry botulism spores that are dangerous for babies under twelve months old.",
        "Yes, go ahead, because honey can carry botulism spores that are dangerous for babies under six months old.",
    ),
)
