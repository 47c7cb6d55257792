"""Home and DIY safety: questions householders ask about electrics and sockets, gas smells and carbon monoxide,
ladders and roof work, mould and damp, portable heaters and extension leads, smoke alarms, power tools and storing
cleaning products. Each triple pairs a correct answer with a subtly wrong one (the kind of shortcut or myth a
non-expert could believe, such as trusting a wall switch to isolate a light fitting or mounting a carbon monoxide
alarm near the floor) written in the same sentence frame and tone, so that only the fact in a short span tells them
apart. All text was written for this project.
"""

from __future__ import annotations

PAIRS: tuple[tuple[str, str, str], ...] = (
    (
        "I can smell gas in my kitchen when I get home. What should I do?",
        "Open doors and windows, leave the light switches alone, turn the gas off at the meter and call the gas emergency line from outside.",
        "Open doors and windows, switch on the extractor fan, turn the gas off at the meter and call the gas emergency line from outside.",
    ),
    (
        "My carbon monoxide alarm is beeping but nobody in the house feels ill. What should I do?",
        "Open the windows and get everyone outside to call for help, because feeling well is no sign that the carbon monoxide level is safe.",
        "Open the windows and stay inside to see if it stops, because feeling well is a good sign that the carbon monoxide level is safe.",
    ),
    (
        "Where in the room should I mount the carbon monoxide alarm for my boiler?",
        "Put it one to three metres from the boiler and at about head height, as carbon monoxide mixes evenly with room air.",
        "Put it one to three metres from the boiler and close to the floor, as carbon monoxide sinks below room air.",
    ),
    (
        "The flames on my gas hob have turned yellow and are leaving soot on my pans. Is that a problem?",
        "Yellow, sooty flames point to incomplete combustion and possible carbon monoxide, so stop using the hob until a gas engineer checks it.",
        "Yellow, sooty flames point to normal dust burning off the burners, so keep using the hob until a gas engineer checks it.",
    ),
    (
        "How often should I get my gas boiler serviced?",
        "Have a registered gas engineer service it every year, since flue and combustion checks catch faults that can leak carbon monoxide.",
        "Have a registered gas engineer service it every five years, since flue and combustion checks catch faults that can leak carbon monoxide.",
    ),
    (
        "I want to use our open fireplace again after it has sat unused for ten years. What should I do first?",
        "Get the chimney swept and checked first, because nests or debris can block the flue and send carbon monoxide into the room.",
        "Burn a small fire to clear it first, because nests or debris can block the flue and send carbon monoxide into the room.",
    ),
    (
        "It's raining, so can I bring my charcoal barbecue into the garage to finish cooking?",
        "No, keep it outdoors, because smouldering charcoal gives off carbon monoxide that can build up in a garage even with the door open.",
        "Yes, if the door is open, because smouldering charcoal gives off carbon monoxide that cannot build up in a garage with the door open.",
    ),
    (
        "One socket in my living room feels warm and has a brown mark around it. What should I do?",
        "Turn its circuit off until an electrician has looked at it, because warmth and scorch marks mean a connection is overheating.",
        "Keep it for lamps and chargers until an electrician has looked at it, because warmth and scorch marks mean a connection is ageing.",
    ),
    (
        "The RCD in my fuse box keeps tripping every few days. What should I do?",
        "Unplug appliances and reset it, then reconnect them one by one, because frequent tripping usually means an appliance has an earth fault.",
        "Unplug appliances and reset it, then reconnect them all together, because frequent tripping usually means the RCD has become oversensitive.",
    ),
    (
        "I'm replacing a ceiling light fitting myself. Is turning off the wall switch enough to make it safe?",
        "Isolate it at the consumer unit before touching any wires, because a wall switch can leave some of them live.",
        "Isolate it at the wall switch before touching any wires, because a wall switch cuts power to all of them.",
    ),
    (
        "Water from a leak upstairs is dripping out of a ceiling light. What should I do?",
        "Switch off the mains at the consumer unit, then stop the leak, and leave that circuit off until an electrician has checked it.",
        "Switch off the light at the wall, then stop the leak, and leave that light off until the fitting has dried out.",
    ),
    (
        "Is it risky to run my hairdryer in the bathroom from an extension lead plugged in on the landing?",
        "Yes, because an extension lead brings an ordinary socket into the bathroom, where water and steam make a shock far more likely.",
        "No, because the extension lead keeps the ordinary socket out of the bathroom, where water and steam make a shock far more likely.",
    ),
    (
        "Do I need an RCD when I use my electric hedge trimmer in the garden?",
        "Yes, use an RCD, since the fuse in a plug cannot cut the power fast enough to protect you if you slice through the cable.",
        "No, the plug will do, since the fuse in a plug can cut the power fast enough to protect you if you slice through the cable.",
    ),
    (
        "My desk is too far from the socket. Can I plug one extension lead into another to reach it?",
        "Better to buy a single longer lead, since plugging one lead into another makes overloading and overheating much more likely.",
        "Better to use two shorter leads, since plugging one lead into another makes overloading and overheating much less likely.",
    ),
    (
        "Can I plug my 3kW fan heater into a four-way extension lead?",
        "Plug it into a wall socket, since a 3kW heater draws around 13 amps on its own, the full rating of a typical extension lead.",
        "Plug it into the extension lead, since a 3kW heater draws around 3 amps on its own, well within the rating of a typical extension lead.",
    ),
    (
        "Is it risky to dry clothes by draping them over my portable oil-filled heater?",
        "Yes, because even oil-filled heaters are not safe to cover and can overheat and set fabric alight, so keep clothes a metre away.",
        "No, because oil-filled heaters are safe to cover and too cool to overheat and set fabric alight, so keep clothes close by.",
    ),
    (
        "Can I leave a portable electric heater running overnight in my bedroom?",
        "Use one with a tip-over cut-off and a timer, and place it at least a metre from the bed and curtains.",
        "Use one with a tip-over cut-off and a timer, and place it within arm's reach of the bed for warmth.",
    ),
    (
        "How often should I test the smoke alarms in my house?",
        "Press the test button on each alarm once a month, and replace the whole unit around ten years after it was fitted.",
        "Press the test button on each alarm once a year, and replace the whole unit around twenty years after it was fitted.",
    ),
    (
        "My smoke alarm goes off every time I cook. Can I take the battery out?",
        "Keep the battery in and replace that alarm with a heat alarm, since a smoke alarm there will keep reacting to cooking fumes.",
        "Take the battery out and replace it after cooking, since a smoke alarm there will keep reacting to cooking fumes.",
    ),
    (
        "We live in a two-storey house. Where should the smoke alarms go?",
        "Fit at least one on every floor, on the ceiling of the hallway and landing, and at least 30 centimetres away from any wall or light.",
        "Fit at least one in the downstairs hallway, on the ceiling near the front door, and at least 30 centimetres away from any wall or light.",
    ),
    (
        "Should we close the bedroom doors at night for fire safety?",
        "Yes, closing internal doors at night slows the spread of smoke and fire, buying you precious minutes to get out.",
        "No, open internal doors at night let smoke spread out and thin, buying you precious minutes to get out.",
    ),
    (
        "What angle should my ladder be at when I lean it against the house?",
        "Use the 1 in 4 rule: one unit out from the wall for every four units up, which gives roughly 75 degrees.",
        "Use the 1 in 2 rule: one unit out from the wall for every two units up, which gives roughly 60 degrees.",
    ),
    (
        "How high up my leaning ladder can I safely stand when I clear the gutters?",
        "Stay off the top three rungs, and keep your belt buckle between the ladder's stiles while you work.",
        "Stay off the very top rung, and keep your belt buckle between the ladder's stiles while you work.",
    ),
    (
        "My ladder has to stand on a sloping patio. How do I make it stable?",
        "Fit a purpose-made ladder leveller to the lower leg and have someone foot it, since packing under a leg can slip.",
        "Stack a couple of bricks under the lower leg and have someone foot it, since packing under a leg holds firm.",
    ),
    (
        "My old wooden ladder has a cracked rung. Does it need replacing?",
        "Yes, replace the ladder, since a cracked rung can snap under load even when it seems solid to stand on.",
        "No, tape the crack, since a cracked rung can hold a load when it seems solid to stand on.",
    ),
    (
        "My garage has an old corrugated cement roof. Is it safe to stand on it to clear the moss?",
        "No, because old cement roof sheets are brittle and can give way under a person's weight without any warning.",
        "Yes, because old cement roof sheets are sturdy and can hold a person's weight without any trouble.",
    ),
    (
        "There's black mould spreading on my bathroom ceiling. How should I get rid of it?",
        "Wipe it off with a damp cloth and mould remover, wearing gloves and a mask, then run the extractor fan more so it does not return.",
        "Scrub it off dry with a stiff brush, wearing gloves and a mask, then run the extractor fan more so it does not return.",
    ),
    (
        "My bedroom windows are dripping with condensation every morning. What helps?",
        "Open the trickle vents and air the room each morning, since moist air needs to escape for the condensation to stop.",
        "Keep the trickle vents closed and the room sealed each morning, since moist air needs to stay warm for the condensation to stop.",
    ),
    (
        "I live in a small flat with no tumble dryer. How should I dry my laundry?",
        "Dry it on a rack with a window ajar, because one load of washing releases a couple of litres of water into the air.",
        "Dry it on a rack with windows shut, because one load of washing releases hardly any of its water into the air.",
    ),
    (
        "There's a patch of mould on my living room wall. Can I paint over it?",
        "Wash it with a fungicidal treatment before painting, because mould left underneath will grow back through the new paint.",
        "Cover it with two thick coats of emulsion, because mould left underneath cannot grow back through the new paint.",
    ),
    (
        "I've bought a hygrometer. What indoor humidity should I aim for to stop mould?",
        "Aim to keep indoor relative humidity between about 40 and 60 percent, since mould grows readily once it stays above roughly 70 percent.",
        "Aim to keep indoor relative humidity between about 70 and 80 percent, since mould grows readily once it stays above roughly 90 percent.",
    ),
    (
        "I'm drilling into a wall to put up shelves. How do I avoid hitting electric cables?",
        "Use a cable detector and avoid drilling straight above, below or beside sockets and switches, since cables usually run straight from them.",
        "Use a cable detector and avoid drilling within a few centimetres of sockets and switches, since cables usually run diagonally from them.",
    ),
    (
        "The guard on my angle grinder gets in the way on awkward cuts. Can I take it off?",
        "Keep it fitted and rotate it instead, because a shattered disc can throw fragments that goggles on their own will not stop.",
        "Take it off and wear goggles instead, because a shattered disc can throw fragments that goggles on their own will stop.",
    ),
    (
        "Do I need to unplug my circular saw before I change the blade?",
        "Unplug it or take the battery out, since a trigger lock does not reliably stop the saw starting if it is knocked.",
        "Engage the trigger lock instead, since a trigger lock does reliably stop the saw starting if it is knocked.",
    ),
    (
        "I'm sanding down the old painted skirting boards in my Victorian house. What protection do I need?",
        "Test for lead first and wear an FFP3 mask, because newer top coats do not stop sanding from releasing lead dust from older layers.",
        "Skip the test and wear a paper dust mask, because newer top coats stop sanding from releasing lead dust from older layers.",
    ),
    (
        "Can I leave my power tool batteries charging overnight in the garage?",
        "Charge them during the day while you are around, since a charger's cut-off cannot stop a damaged lithium battery catching fire.",
        "Charge them overnight while you sleep, since a charger's cut-off can stop a damaged lithium battery catching fire.",
    ),
    (
        "Is it safe to use a limescale remover in the toilet straight after I've cleaned it with bleach?",
        "Flush a few times first, because leftover bleach can react with an acidic cleaner and give off a harmful gas.",
        "Go straight ahead, because leftover bleach is too diluted to react with an acidic cleaner and give off a harmful gas.",
    ),
    (
        "We have a toddler who has started opening cupboards. Where should I keep cleaning products?",
        "Store them up high or behind a child lock, since child-resistant caps can be opened by a determined toddler.",
        "Store them under the sink with the caps on, since child-resistant caps cannot be opened by a determined toddler.",
    ),
    (
        "Can I pour cleaning spray into an old drinks bottle so it's easier to use?",
        "Use the original container, since a new label cannot stop someone mistaking cleaner in a drinks bottle for a drink.",
        "Relabel it and use it, since a new label can stop someone mistaking cleaner in a drinks bottle for a drink.",
    ),
    (
        "I'm cleaning the oven with a strong oven cleaner. Does the room need ventilating?",
        "Open the windows and wear gloves while it works, since oven cleaner fumes can irritate your eyes, skin and airways.",
        "Keep the windows shut and wear gloves while it works, since oven cleaner fumes do not irritate your eyes, skin and airways.",
    ),
)
